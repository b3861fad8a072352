"""`redwatch audit`: run the full security, privacy and fairness campaign against a model
and write the compliance audit (JSON, HTML, PDF) into one folder."""

from __future__ import annotations

from pathlib import Path

import typer

from redwatch.cli.console import err, open_store, out, parse_shape, progress_bar
from redwatch.config import DEFAULT_PROJECT_FILE, load_project_config
from redwatch.exceptions import UsageError
from redwatch.findings import Severity

DEFAULT_SECONDS = 300.0


def audit(
    model: str = typer.Argument(..., help="Model file or 'module:attr'."),
    data: Path = typer.Option(..., "--data", help="CSV with a header row."),
    label: str = typer.Option(..., "--label", help="Label column in the CSV."),
    sensitive: list[str] = typer.Option(
        [], "--sensitive", help="Sensitive column of the CSV, e.g. sex (repeatable)."
    ),
    train_recipe: str | None = typer.Option(
        None, "--train-recipe", help="pkg.mod:fn(x, y, seed) -> model, for retraining probes."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Audit folder (written whole or not)."),
    formats: str = typer.Option("html,pdf,json", "--format", help="Any of html,pdf,json."),
    budget_seconds: float | None = typer.Option(
        None, "--budget-seconds", min=0.1, help=f"Campaign time (default {DEFAULT_SECONDS:g})."
    ),
    budget_queries: int | None = typer.Option(None, "--budget-queries", min=1),
    seed: int = typer.Option(0, "--seed"),
    fail_on: str = typer.Option("high", "--fail-on", help="Exit 1 at this severity; none."),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    config: Path | None = typer.Option(None, "--config", help="redwatch.yaml (probe options)"),
) -> None:
    """Audit a model: every applicable attack, privacy and fairness test, one report."""
    from redwatch.audit.document import AuditScope
    from redwatch.audit.render import require_pdf
    from redwatch.audit.run import audit_params, audit_probes, check_out_dir, run_audit
    from redwatch.engine.campaign import ScanOptions
    from redwatch.engine.data import load_csv
    from redwatch.engine.planner import available_probes
    from redwatch.probes.base import Budget
    from redwatch.recipe import load_train_fn
    from redwatch.targets.loading import load_target

    project = load_project_config(config)
    fmts = parse_formats(formats)
    threshold = parse_threshold(fail_on)
    check_out_dir(out_dir)
    if "pdf" in fmts:
        require_pdf()
    if train_recipe is not None:
        load_train_fn(train_recipe)  # a bad reference is a usage error before any work
    shape = parse_shape(input_shape) or (
        tuple(project.image_shape) if project.image_shape else None
    )
    target = load_target(
        model, name=model, trust_model=trust_model, model_class=model_class, input_shape=shape
    )
    columns = list(sensitive or project.sensitive)
    dataset = load_csv(data, label, sensitive=columns)
    table = available_probes()
    names = audit_probes(table)
    seconds = budget_seconds or project.budget.seconds or DEFAULT_SECONDS
    options = ScanOptions(
        out_dir=out_dir,
        probes=names,
        budget=Budget(budget_queries or project.budget.queries, seconds),
        seed=seed,
        params=audit_params(table, names, project.probes, train_recipe),
        features=project.features,
        image_shape=shape,
        model=model,
        onehot=project.onehot,
        constraints=project.constraints,
        config_source=str(config or DEFAULT_PROJECT_FILE),
        sensitive=columns,
    )
    scope = AuditScope(
        model=model,
        data=str(data),
        label=label,
        sensitive=tuple(columns),
        train_recipe=train_recipe,
        budget_seconds=seconds,
        formats=fmts,
    )
    with open_store() as store:
        outcome = run_audit(target, dataset, store, options, scope, progress=progress_bar)
    summary = outcome.audit["summary"]
    out.print(
        f"audit of {model}: overall risk {summary['overall_risk']}, "
        f"{summary['findings']} finding(s), {summary['tested_not_found']} tested clean"
    )
    for risk in summary["top_risks"]:
        out.print(f"  {risk['risk']:<8} {risk['id']} {risk['text']}", markup=False)
    for path in outcome.files:
        out.print(f"  wrote {path}", markup=False)
    worst = outcome.result.worst()
    if threshold is not None and worst is not None and worst >= threshold:
        err.print(f"findings at or above {threshold.label}: exit 1")
        raise typer.Exit(1)


def parse_formats(text: str) -> tuple[str, ...]:
    """--format: a comma list of html, pdf, json (UsageError otherwise)."""
    from redwatch.audit.render import FORMATS

    fmts = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise UsageError(
            f"unknown audit format(s) {', '.join(bad) or repr(text)}; choose from "
            f"{', '.join(FORMATS)}"
        )
    return fmts


def parse_threshold(text: str) -> Severity | None:
    """--fail-on: a severity name, or none to never fail."""
    return None if text.strip().lower() == "none" else Severity.parse(text)
