"""`redwatch scan`: run a red-team campaign against a model file, import path or URL, or
(`--kind chat`) against an LLM chat endpoint (the chat branch lives in scan_chat.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from redwatch.cli.console import err, open_store, out, parse_shape, progress_bar
from redwatch.cli.scan_chat import (
    MODEL_ONLY,
    ChatFlags,
    check_options,
    run_chat_command,
    scan_kind,
)
from redwatch.cli.summary import print_summary
from redwatch.config import DEFAULT_PROJECT_FILE, load_project_config
from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import load_csv
from redwatch.exceptions import UsageError
from redwatch.findings import Severity
from redwatch.integrity.encryption import read_key
from redwatch.integrity.signing import require_valid_signature
from redwatch.probes.base import Budget
from redwatch.registry import plugins
from redwatch.results import CampaignResult
from redwatch.targets.loading import load_target


def scan(
    model: str = typer.Argument(..., help="Model file, 'module:attr', or http(s) URL."),
    data: Path | None = typer.Option(
        None, "--data", help="CSV with a header row (required unless --kind chat)."
    ),
    kind: str | None = typer.Option(None, "--kind", help="model (default) or chat."),
    label: str | None = typer.Option(None, "--label", help="Label column in the CSV."),
    sensitive: list[str] = typer.Option(
        [], "--sensitive", help="Sensitive column of the CSV, e.g. sex (repeatable)."
    ),
    probe: list[str] = typer.Option([], "--probe", help="Probe to run (repeatable)."),
    budget_queries: int | None = typer.Option(None, "--budget-queries", min=1),
    budget_seconds: float | None = typer.Option(None, "--budget-seconds", min=0.1),
    out_dir: Path = typer.Option(Path("redwatch-report"), "--out", help="Report folder."),
    formats: str = typer.Option("json,html", "--format", help="json,html,sarif,junit,md"),
    fail_on: str | None = typer.Option(None, "--fail-on", help="Exit 1 at this severity."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report on stdout."),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    config: Path | None = typer.Option(None, "--config", help="redwatch.yaml"),
    name: str | None = typer.Option(
        None, "--name", help="Target name in the store (default: MODEL as given)."
    ),
    seed: int = typer.Option(0, "--seed"),
    executor: str = typer.Option(
        "local", "--executor", help="Where probes run: local (this process) or ray."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster: host:port or ray://host:port (default local)."
    ),
    header: list[str] = typer.Option([], "--header", help="'Name: value' for HTTP targets."),
    auth_env: str | None = typer.Option(None, "--auth-env", help="Env var with a bearer token."),
    template: str | None = typer.Option(None, "--template", help="JSON request template."),
    response_path: str | None = typer.Option(None, "--response-path", help="e.g. $.probs"),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.1, help="Seconds per call (default 10; chat 30)."
    ),
    key_env: str | None = typer.Option(None, "--key-env", help="Env var with the model key."),
    key_file: Path | None = typer.Option(None, "--key-file", help="Key for an encrypted model."),
    require_signature: Path | None = typer.Option(
        None, "--require-signature", help="Refuse the model unless signed for this PUBLIC.pem."
    ),
    signature: Path | None = typer.Option(
        None, "--signature", help="Signature file (default MODEL.sig) for --require-signature."
    ),
    chat_model: str | None = typer.Option(None, "--chat-model", help="Model id (chat)."),
    system_prompt: Path | None = typer.Option(
        None, "--system-prompt", help="The app's deployed system prompt (chat)."
    ),
    app_system_prompt: bool = typer.Option(
        False, "--app-system-prompt", help="The app sets its own system prompt (chat)."
    ),
    attacker: str | None = typer.Option(None, "--attacker", help="Attacker model URL (chat)."),
    attacker_model: str | None = typer.Option(None, "--attacker-model"),
    judge: str | None = typer.Option(None, "--judge", help="Judge model URL (chat)."),
    judge_model: str | None = typer.Option(None, "--judge-model"),
) -> None:
    """Attack a model (or, with --kind chat, a chat endpoint) and write reports."""
    project = load_project_config(config)
    fmts = _formats(formats)
    threshold = _threshold(fail_on, project.fail_threshold())
    scan_as = scan_kind(kind)
    flags = ChatFlags(
        chat_model=chat_model,
        system_prompt=system_prompt,
        app_system_prompt=app_system_prompt,
        attacker=attacker,
        attacker_model=attacker_model,
        judge=judge,
        judge_model=judge_model,
        headers=header,
        auth_env=auth_env,
        template=template,
        response_path=response_path,
        timeout=timeout,
    )
    given = [data, label, sensitive, model_class, input_shape, trust_model, key_env, key_file]
    given += [require_signature, signature]
    check_options(scan_as, flags, dict(zip(MODEL_ONLY, map(bool, given), strict=True)))
    if scan_as == "chat":
        chat_options = ScanOptions(
            out_dir=out_dir,
            probes=probe or None,
            budget=Budget(
                budget_queries or project.budget.queries,
                budget_seconds or project.budget.seconds,
            ),
            formats=fmts,
            seed=seed,
            params=project.probes,
            model=model,
            config_source=str(config or DEFAULT_PROJECT_FILE),
            executor=executor,
        )
        _finish(run_chat_command(model, flags, project, chat_options, name), as_json, threshold)
        return
    if data is None:
        raise UsageError("--data is required (a CSV with a header row) unless --kind chat")
    shape = parse_shape(input_shape) or (
        tuple(project.image_shape) if project.image_shape else None
    )
    _check_signature(model, require_signature, signature)
    target = load_target(
        model,
        name=name or model,
        trust_model=trust_model,
        model_class=model_class,
        input_shape=shape,
        http_options=_http_options(
            header, auth_env, template, response_path, timeout or 10.0, budget_queries
        ),
        decryption_key=read_key(key_env, key_file),
    )
    columns = sensitive or project.sensitive
    dataset = load_csv(data, label or project.label, sensitive=columns)
    options = ScanOptions(
        out_dir=out_dir,
        probes=probe or None,
        budget=Budget(
            budget_queries or project.budget.queries, budget_seconds or project.budget.seconds
        ),
        formats=fmts,
        seed=seed,
        params=_probe_params(project.probes, require_signature, signature),
        features=project.features,
        image_shape=shape,
        model=model,
        onehot=project.onehot,
        constraints=project.constraints,
        config_source=str(config or DEFAULT_PROJECT_FILE),
        sensitive=columns,
        executor=executor,
        ray_address=ray_address,
    )
    with open_store() as store:
        result = run_scan(
            target,
            target.kind,
            dataset,
            store,
            options,
            progress=progress_bar,
        )
    _finish(result, as_json, threshold)


def _finish(result: CampaignResult, as_json: bool, threshold: Severity | None) -> None:
    """Print the result (summary or JSON) and exit 1 at or above the --fail-on severity."""
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        print_summary(result)
    worst = result.worst()
    if threshold is not None and worst is not None and worst >= threshold:
        err.print(f"findings at or above {threshold.label}: exit 1")
        raise typer.Exit(1)


def _probe_params(
    params: dict[str, dict[str, Any]], public_key: Path | None, signature: Path | None
) -> dict[str, dict[str, Any]]:
    """redwatch.yaml's probe options, plus the --require-signature key for the signature
    probe so that the report records the verified signature instead of "not verified"."""
    if public_key is None:
        return params
    merged = {name: dict(opts) for name, opts in params.items()}
    merged.setdefault("integrity.signature", {}).setdefault("public_key", str(public_key))
    if signature is not None:
        merged["integrity.signature"].setdefault("signature", str(signature))
    return merged


def _check_signature(model: str, public_key: Path | None, signature: Path | None) -> None:
    """--require-signature: verify the model file against its signature before loading it."""
    if public_key is None:
        if signature is not None:
            raise UsageError("--signature needs --require-signature PUBLIC.pem")
        return
    if model.startswith(("http://", "https://")):
        raise UsageError(f"--require-signature needs a model on disk, not the URL {model}")
    if not Path(model).exists():
        raise UsageError(
            f"--require-signature needs a model file on disk; {model!r} is not one"
            " (import paths cannot be signed)"
        )
    require_valid_signature(Path(model), public_key, signature)


def _threshold(option: str | None, default: Severity | None) -> Severity | None:
    """--fail-on overrides redwatch.yaml; "none" never fails the run."""
    if option is None:
        return default
    return None if option.strip().lower() == "none" else Severity.parse(option)


def _formats(text: str) -> list[str]:
    fmts = [f.strip() for f in text.split(",") if f.strip()]
    known = plugins("redwatch.reporters")
    bad = [f for f in fmts if f not in known]
    if bad or not fmts:
        raise UsageError(
            f"unknown report format(s) {', '.join(bad) or text!r}; choose from {', '.join(known)}"
        )
    return fmts


def _http_options(
    headers: list[str],
    auth_env: str | None,
    template: str | None,
    response_path: str | None,
    timeout: float,
    budget: int | None,
) -> dict[str, object]:
    parsed = {}
    for h in headers:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header must look like 'Name: value', got {h!r}")
        parsed[name.strip()] = value.strip()
    options: dict[str, object] = {"headers": parsed, "timeout": timeout, "query_budget": budget}
    if auth_env:
        options["auth_env"] = auth_env
    if template:
        options["template"] = template
    if response_path:
        options["response_path"] = response_path
    return options
