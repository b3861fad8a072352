"""`redwatch guard`: serve a guarded model over HTTP, either as a reverse proxy in front of
an upstream prediction server (--upstream URL) or around a local model file (--model FILE).

Everything that can fail on bad input (target, data, policy and every stage's preparation,
the port) is checked before the server starts, so a mistake is one line and exit 2. Events
go to the store through an EventRecorder (spooled to disk while the store is down) and to
the alerter; SIGTERM / SIGINT stop the server gracefully and flush both before exit 0.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import typer
import uvicorn

from redwatch.alerts import AlertConfig, Alerter, LogSink, RuleSet, load_alert_config
from redwatch.cli.serving import authority, bind_listener, on_stop_signals
from redwatch.config import DEFAULT_PROJECT_FILE, ProjectConfig, Settings, load_project_config
from redwatch.engine.campaign import ScanOptions, build_spec
from redwatch.engine.data import align, load_csv
from redwatch.exceptions import DataError, RedwatchError, UsageError, first_line
from redwatch.guard.context import StageContext
from redwatch.guard.events import fanout
from redwatch.guard.http.proxy import build_proxy_app
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.model import EventSink
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.policy import Policy, default_policy, load_policy
from redwatch.guard.recorder import EventRecorder
from redwatch.guard.served import ScoringServedModel, ServedModel, served_model
from redwatch.targets.loading import load_file
from redwatch.targets.spec import InputSpec

app = typer.Typer(
    help="Runtime guard: serve a model behind the guard pipeline, and the guard's tools.",
    invoke_without_command=True,
    no_args_is_help=False,
)

KEEP_ALIVE_S = 65  # longer than the usual 60 s idle timeout of load balancers in front
GRACEFUL_S = 10  # how long in-flight requests may finish after SIGTERM
DEFAULT_DEDUP_S = 300.0  # one alert per source, kind and client per five minutes


@dataclass(frozen=True)
class Reference:
    """What the stages may know about valid inputs: the InputSpec and clean rows."""

    spec: InputSpec | None = None
    rows: np.ndarray | None = None


@app.callback(invoke_without_command=True)
def guard(
    ctx: typer.Context,
    upstream: str | None = typer.Option(
        None, "--upstream", help="Base URL of the prediction server to protect."
    ),
    model: Path | None = typer.Option(None, "--model", help="Model file to serve (no hop)."),
    policy: Path | None = typer.Option(
        None, "--policy", help="Guard policy YAML (default: the default policy)."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="CSV of clean rows: the InputSpec and detector reference."
    ),
    label: str | None = typer.Option(None, "--label", help="Label column in --data (dropped)."),
    config: Path | None = typer.Option(None, "--config", help="redwatch.yaml (declarations)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port (0: any free one)."),
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
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load the model file even if its scan finds it unsafe."
    ),
    upstream_timeout: float = typer.Option(
        10.0, "--upstream-timeout", min=0.1, help="Seconds the upstream may take to answer."
    ),
    breaker_failures: int = typer.Option(
        5, "--breaker-failures", min=1, help="Upstream failures in a row that open the breaker."
    ),
    breaker_reset: float = typer.Option(
        10.0, "--breaker-reset", min=0.1, help="Seconds the breaker stays open before a trial."
    ),
    max_body_bytes: int = typer.Option(
        1_048_576, "--max-body-bytes", min=1, help="Largest request body accepted (413 above)."
    ),
) -> None:
    """Serve a guarded model: `--upstream URL` (reverse proxy) or `--model FILE`."""
    if ctx.invoked_subcommand is not None:
        return
    project = load_project_config(config)
    base_url = _checked_target(upstream, model)
    local = _load_model(model, trust_model, project) if model is not None else None
    reference = _reference(data, label, config, project, local)
    pipeline, policy_name = _build_pipeline(policy, reference, local)
    settings = _proxy_settings(upstream_timeout, breaker_failures, breaker_reset, max_body_bytes)
    store_url = _store_url(db)
    spool_dir = _spool_dir(spool)
    alerting = _alerting(alerts, alert_log)
    sock = bind_listener(host, port, inheritable=True)
    what = f"upstream {base_url}" if base_url is not None else f"model {model}"
    ready = f"serving on http://{authority(host, sock)} ({what}), policy: {policy_name}"
    source = f"guard@{authority(host, sock)}"
    _log_to_stderr()
    _serve(
        pipeline,
        base_url,
        local,
        settings,
        sock,
        EventOutlets(store_url, spool_dir, alerting, source=source),
        ready,
    )


def _checked_target(upstream: str | None, model: Path | None) -> str | None:
    """Exactly one of --upstream / --model; the upstream's base URL without trailing /."""
    if (upstream is None) == (model is None):
        raise UsageError(
            "give exactly one of --upstream URL (reverse proxy) or --model FILE (serve a model)"
        )
    if model is not None:
        if not model.is_file():
            raise UsageError(f"--model: model file not found: {model}")
        return None
    assert upstream is not None
    return upstream_base(upstream)


def upstream_base(text: str) -> str:
    """Validate an upstream base URL (http/https, a host, no query) and strip trailing '/';
    UsageError naming the problem. A URL ending in /predict or /predict_proba is refused
    because the proxy appends those paths itself."""
    try:
        parts = urlsplit(text.strip())
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise UsageError(f"--upstream: not a valid URL: {text!r} ({first_line(exc)})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--upstream must be an http(s) URL with a host, got {text!r}")
    if parts.query or parts.fragment:
        raise UsageError(f"--upstream must not carry a query or fragment, got {text!r}")
    base = text.strip().rstrip("/")
    if base.endswith(("/predict", "/predict_proba")):
        raise UsageError(
            f"--upstream is the server's base URL (the guard adds /predict and "
            f"/predict_proba), got {text!r}"
        )
    return base


def _load_model(path: Path, trust_model: bool, project: ProjectConfig) -> ServedModel:
    """Load the model file through the safe loader (pickles are scanned before loading)."""
    shape = tuple(project.image_shape) if project.image_shape else None
    target = load_file(path, trust_model=trust_model, input_shape=shape, name=path.stem)
    return served_model(target)


def _reference(
    data: Path | None,
    label: str | None,
    config: Path | None,
    project: ProjectConfig,
    local: ServedModel | None,
) -> Reference:
    """The InputSpec and clean rows from --data, refined by redwatch.yaml exactly as
    `redwatch scan --data` does; with a local model, its columns and a trial prediction."""
    if data is None:
        if label is not None:
            raise UsageError("--label needs --data")
        return Reference()
    dataset = load_csv(data, label or project.label)
    if local is not None:
        dataset = align(dataset, local.target.feature_names, local.target.n_features)
    options = ScanOptions(
        out_dir=Path("."),
        features=project.features,
        image_shape=tuple(project.image_shape) if project.image_shape else None,
        onehot=project.onehot,
        constraints=project.constraints,
        config_source=str(config or DEFAULT_PROJECT_FILE),
    )
    spec = build_spec(dataset, options)
    if local is not None:
        _trial_prediction(local, dataset.x[:8], str(data))
    return Reference(spec, dataset.x)


def _trial_prediction(local: ServedModel, rows: np.ndarray, source: str) -> None:
    """Ask the model once so that a data / model mismatch is an error before serving."""
    try:
        local.predict(rows)
    except RedwatchError:
        raise
    except Exception as exc:  # the model library rejected the rows
        raise DataError(f"model rejected the data from {source}: {first_line(exc)}") from None


def _build_pipeline(
    path: Path | None, reference: Reference, local: ServedModel | None
) -> tuple[GuardPipeline, str]:
    """Read the policy and build (and calibrate) every stage now, before the port is bound;
    returns the pipeline and how the ready line names the policy."""
    policy: Policy = default_policy() if path is None else load_policy(path)
    context = StageContext(
        spec=reference.spec,
        predict_proba=local.predict_proba if isinstance(local, ScoringServedModel) else None,
        classes=local.classes_ if local is not None else None,
        reference=reference.rows,
        base_dir=path.resolve().parent if path is not None else Path.cwd(),
    )
    source = str(path or "default policy")
    pipeline = GuardPipeline(policy, context, source=source)
    try:
        _ = pipeline.stages
    except (UsageError, DataError) as exc:  # a stage's check() may not name the policy
        if str(exc).startswith(f"{source}: "):
            raise
        raise type(exc)(f"{source}: {exc}") from None
    names = ", ".join(policy.stage_names()) or "no stages"
    return pipeline, f"{path or 'default'} ({names})"


def _proxy_settings(
    upstream_timeout: float, breaker_failures: int, breaker_reset: float, max_body_bytes: int
) -> ProxySettings:
    """ProxySettings from the command-line options (the rest keep their defaults)."""
    return ProxySettings(
        max_body_bytes=max_body_bytes,
        upstream_timeout_s=upstream_timeout,
        breaker_failures=breaker_failures,
        breaker_reset_s=breaker_reset,
    ).check()


def _store_url(db: str | None) -> str:
    """--db, or the store `redwatch scan` uses (REDWATCH_DB_URL, else SQLite under
    REDWATCH_HOME); UsageError when it is not a database URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = db or Settings.from_env().db_url
    try:
        make_url(url)
    except ArgumentError:
        raise UsageError(f"--db: not a database URL: {url!r}") from None
    return url


def _spool_dir(spool: Path | None) -> Path:
    """--spool, or REDWATCH_HOME/spool/guard: created now, UsageError when it cannot be
    written (events would have nowhere to wait while the store is down)."""
    folder = spool or Settings.from_env().home / "spool" / "guard"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--spool: cannot create {folder} ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--spool: {folder} is not writable")
    return folder


def _log_to_stderr() -> None:
    """Send redwatch's own log records (alerts from the default log sink, recorder and
    proxy warnings) to stderr with a timestamp, from INFO up."""
    logger = logging.getLogger("redwatch")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _alerting(alerts: Path | None, alert_log: Path | None) -> AlertConfig:
    """The alerting settings: an --alerts file, or the default rules with alerts written as
    JSON lines to --alert-log (or to the `redwatch.alerts` logger without it)."""
    if alerts is not None and alert_log is not None:
        raise UsageError(
            "give --alerts FILE or --alert-log FILE, not both (a log sink with a "
            "path in the alerting file does what --alert-log does)"
        )
    if alerts is not None:
        return load_alert_config(alerts)
    return AlertConfig(RuleSet(), (LogSink(alert_log),), DEFAULT_DEDUP_S)


class EventOutlets:
    """Where the guard's events go: the store (through an EventRecorder that spools to disk
    while the store is down) and the alerter built from the alerting settings."""

    def __init__(self, db: str, spool: Path, alerting: AlertConfig, *, source: str) -> None:
        self.db = db
        self.spool = spool
        self.alerting = alerting
        self.source = source
        self.recorder: EventRecorder | None = None
        self.alerter: Alerter | None = None

    def start(self) -> EventSink:
        """Start the recorder and the alerter; the event sink that feeds both."""
        self.recorder = EventRecorder(self.db, self.spool, source=self.source).start()
        self.alerter = self.alerting.alerter(source=self.source).start()
        return fanout(self.recorder, self.alerter)

    def close(self) -> None:
        """Flush and stop the recorder, then the alerter (whichever was started)."""
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        if self.alerter is not None:
            self.alerter.close()
            self.alerter = None


class GuardServer(uvicorn.Server):
    """uvicorn's server that prints the ready line once it accepts connections, and stops
    at once when a stop signal arrived before it started."""

    def __init__(self, config: uvicorn.Config, ready: str, stop: StopFlag) -> None:
        super().__init__(config)
        self.ready = ready
        self.stop = stop

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, then announce it (or stop when a signal came first)."""
        await super().startup(sockets=sockets)
        if self.stop.raised:
            self.should_exit = True
        elif self.started:
            print(f"redwatch guard: {self.ready}", flush=True)


class StopFlag:
    """Records SIGTERM / SIGINT while the guard runs, so that a signal that uvicorn passes
    on after its graceful shutdown (or one that came before it started) ends the process
    through the normal path: flush the events, exit 0."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: note the request to stop."""
        self.raised = True

    @contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Handle the stop signals with this flag inside the block."""
        with on_stop_signals(self):
            yield self


def _serve(
    pipeline: GuardPipeline,
    upstream: str | None,
    local: ServedModel | None,
    settings: ProxySettings,
    sock: socket.socket,
    events: EventOutlets,
    ready: str,
) -> None:
    """Run the proxy app on the bound socket until a stop signal, then flush the events."""

    def app(sink: EventSink) -> Any:
        return build_proxy_app(
            pipeline, upstream=upstream, model=local, sink=sink, settings=settings
        )

    serve_guarded(app, sock, events, ready)


def serve_guarded(
    make_app: Callable[[EventSink], Any], sock: socket.socket, events: EventOutlets, ready: str
) -> None:
    """Serve the app `make_app` builds around the events' sink on the bound socket until a
    stop signal, then flush the events (the prediction proxy and the chat proxy alike)."""
    with sock, StopFlag().installed() as stop:
        try:
            web = make_app(events.start())
            config = uvicorn.Config(
                web,
                log_level="warning",
                access_log=False,
                timeout_keep_alive=KEEP_ALIVE_S,
                timeout_graceful_shutdown=GRACEFUL_S,
                server_header=False,
            )
            GuardServer(config, ready, stop).run(sockets=[sock])
        finally:
            events.close()
    print("redwatch guard: stopped; events flushed", flush=True)
