"""`redwatch guard chat-proxy`: the LLM guard as a reverse proxy in front of an
OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, a hosted API, or the
bundled reference app). The policy's llm-* stages are built (detectors fitted or loaded)
before the port is bound, so a mistake is one line and exit 2; events go to the store and
the alerter exactly as `redwatch guard`'s do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from redwatch.cli.guard_cmd import (
    EventOutlets,
    _alerting,
    _log_to_stderr,
    _spool_dir,
    _store_url,
    serve_guarded,
)
from redwatch.cli.serving import authority, bind_listener
from redwatch.exceptions import DataError, UsageError
from redwatch.guard.context import StageContext
from redwatch.guard.http.chat_proxy import build_chat_proxy_app, checked_upstream
from redwatch.guard.model import EventSink
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.policy import load_policy


def chat_proxy(
    upstream: str = typer.Option(
        ..., "--upstream", help="Base URL of the chat server, e.g. http://host:8000/v1."
    ),
    policy: Path = typer.Option(..., "--policy", help="Guard policy YAML with llm-* stages."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8090, "--port", min=0, max=65535, help="Port (0: any free one)."),
    timeout: float = typer.Option(
        30.0, "--timeout", min=0.1, help="Seconds the upstream may take to answer."
    ),
    api_key_env: str | None = typer.Option(
        None,
        "--api-key-env",
        help="Variable holding the upstream's API key (default: pass the client's on).",
    ),
    db: str | None = typer.Option(None, "--db", help="Store URL for events (default: scan's)."),
    spool: Path | None = typer.Option(
        None, "--spool", help="Folder for events while the store is down."
    ),
    alerts: Path | None = typer.Option(
        None, "--alerts", help="Alerting YAML: rules, de-duplication and sinks."
    ),
    alert_log: Path | None = typer.Option(
        None, "--alert-log", help="Default rules; alerts as JSON lines to this file."
    ),
) -> None:
    """Guard an OpenAI-compatible chat endpoint: prompt injection, PII/secret redaction,
    canary leaks, tool-call and output policy."""
    base = checked_upstream(upstream)
    pipeline, names = build_chat_pipeline(policy)
    outlets = EventOutlets(
        _store_url(db), _spool_dir(spool), _alerting(alerts, alert_log), source="guard-chat"
    )
    sock = bind_listener(host, port, inheritable=True)
    where = authority(host, sock)
    outlets.source = f"guard-chat@{where}"
    ready = f"chat proxy on http://{where}/v1 (upstream {base}), policy: {policy} ({names})"
    _log_to_stderr()

    def app(sink: EventSink) -> Any:
        return build_chat_proxy_app(
            pipeline, upstream=base, sink=sink, timeout=timeout, api_key_env=api_key_env
        )

    serve_guarded(app, sock, outlets, ready)


def build_chat_pipeline(path: Path) -> tuple[GuardPipeline, str]:
    """Read the policy, build every stage now and insist on chat stages; the pipeline and
    the stage names for the ready line."""
    policy = load_policy(path)
    source = str(path)
    pipeline = GuardPipeline(policy, StageContext(base_dir=path.resolve().parent), source=source)
    try:
        _ = pipeline.stages
    except (UsageError, DataError) as exc:  # a stage's check() may not name the policy
        if str(exc).startswith(f"{source}: "):
            raise
        raise type(exc)(f"{source}: {exc}") from None
    if not pipeline.stages or pipeline.domain != "chat":
        raise UsageError(
            f"{source}: has no llm-* stages; `guard chat-proxy` guards chat endpoints "
            "(use `redwatch guard --upstream` for prediction endpoints)"
        )
    return pipeline, ", ".join(policy.stage_names())
