"""`redwatch harden`: make a model more robust against the evasion findings and prove it with
a before/after re-scan. Exit 0 when robustness improved, 1 when it did not, 2 on bad input.

With `--drop-rows QUARANTINE` it instead retrains the model without the quarantined rows
(`redwatch data scan --quarantine`) and re-scans: exit 0 when the new model's agreement with
the quarantine fell and its held-out accuracy held (within 1 point of a control retrained
with the quarantine), 1 otherwise."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from redwatch.cli.console import err, open_store, out, parse_shape, progress_bar
from redwatch.config import load_project_config
from redwatch.exceptions import UsageError
from redwatch.harden.compare import Comparison
from redwatch.harden.pipeline import HardenOutcome, HardenRequest, run_harden
from redwatch.integrity.encryption import read_key
from redwatch.probes.base import Budget


def harden(
    model: str = typer.Argument(..., help="Model file (or 'module:attr') to harden."),
    data: Path = typer.Option(..., "--data", help="Labelled CSV with a header row."),
    out_dir: Path = typer.Option(..., "--out", help="New folder for the hardened model."),
    label: str | None = typer.Option(None, "--label", help="Label column in the CSV."),
    config: Path | None = typer.Option(None, "--config", help="redwatch.yaml"),
    method: str | None = typer.Option(
        None, "--method", help="pgd-at | trades (PyTorch), augment (others)."
    ),
    epsilon: float | None = typer.Option(
        None, "--epsilon", help="L∞ budget as a fraction of the range (default: reference ε)."
    ),
    epochs: int = typer.Option(3, "--epochs", min=1, help="Fine-tuning epochs (PyTorch)."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Augmentation rounds (others)."),
    holdout: float = typer.Option(0.2, "--holdout", help="Fraction of rows held out."),
    probe: list[str] = typer.Option([], "--probe", "--probes", help="Re-scan probe (repeat)."),
    budget_queries: int | None = typer.Option(None, "--budget-queries", min=1),
    budget_seconds: float | None = typer.Option(None, "--budget-seconds", min=0.1),
    seed: int = typer.Option(0, "--seed"),
    name: str | None = typer.Option(None, "--name", help="Target name (default: MODEL)."),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    key_env: str | None = typer.Option(None, "--key-env", help="Env var with the model key."),
    key_file: Path | None = typer.Option(None, "--key-file", help="Key for an encrypted model."),
    drop_rows: Path | None = typer.Option(
        None, "--drop-rows", help="Quarantine CSV (redwatch data scan): retrain without it."
    ),
    kind: str = typer.Option("tabular", "--kind", help="Data kind for the --drop-rows re-scan."),
    train_recipe: str | None = typer.Option(
        None, "--train-recipe", help="pkg.mod:fn(x, y, seed) training function (--drop-rows)."
    ),
) -> None:
    """Harden a model (adversarial training or augmentation), re-scan it, compare."""
    project = load_project_config(config)
    shape = parse_shape(input_shape) or (
        tuple(project.image_shape) if project.image_shape else None
    )
    request = HardenRequest(
        model=model,
        data=data,
        out=out_dir,
        label=label or project.label,
        method=method,
        epsilon=epsilon,
        epochs=epochs,
        rounds=rounds,
        holdout=holdout,
        probes=probe,
        budget=Budget(
            budget_queries or project.budget.queries, budget_seconds or project.budget.seconds
        ),
        seed=seed,
        name=name,
        trust_model=trust_model,
        model_class=model_class,
        input_shape=shape,
        decryption_key=read_key(key_env, key_file),
        features=project.features,
        params=project.probes,
    )
    if drop_rows is not None:
        _drop_rows(request, drop_rows, kind, train_recipe)
        return
    if kind != "tabular" or train_recipe is not None:
        raise UsageError("--kind and --train-recipe go with --drop-rows")
    with open_store() as store:
        outcome = run_harden(request, store, progress=progress_bar)
    _print(outcome)
    if not outcome.comparison.improved:
        err.print(f"{outcome.comparison.verdict}: exit 1")
        raise typer.Exit(1)


def _drop_rows(request: HardenRequest, quarantine: Path, kind: str, recipe: str | None) -> None:
    """`--drop-rows`: retrain without the quarantine, re-scan, print; exit 1 unless agreement
    with the quarantine fell and held-out accuracy held."""
    from redwatch.harden.drop_rows import DropRowsRequest, run_drop_rows, summary_lines

    with open_store() as store:
        outcome = run_drop_rows(
            DropRowsRequest(request, quarantine, kind, recipe), store, progress=progress_bar
        )
    out.print(comparison_table(outcome.comparison))
    out.print("* reference epsilon")
    out.print(outcome.comparison.verdict)
    for line in summary_lines(outcome):
        out.print(line)
    if not outcome.figures.passed:
        err.print(f"{outcome.figures.verdict}: exit 1")
        raise typer.Exit(1)


def comparison_table(comparison: Comparison) -> Table:
    """The before/after table as a rich Table."""
    table = Table(box=box.SIMPLE_HEAD, title="before / after")
    table.add_column("metric", no_wrap=True)
    for col in ("before", "after", "change"):
        table.add_column(col, justify="right")
    for row in comparison.rows:
        change = row.change
        style = "" if change is None or change == 0 else _style(row.metric, change)
        table.add_row(
            row.label + (" *" if row.reference else ""),
            _pct(row.before),
            _pct(row.after),
            "–" if change is None else f"[{style}]{change * 100:+.1f} pts[/]" if style else "0",
        )
    return table


def _style(metric: str, change: float) -> str:
    """Green when the change is good for the defender, red otherwise."""
    good = change < 0 if metric == "attack success" else change > 0
    return "green" if good else "red"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _print(outcome: HardenOutcome) -> None:
    out.print(comparison_table(outcome.comparison))
    out.print("* reference epsilon")
    out.print(outcome.comparison.verdict)
    out.print(f"hardened model: {outcome.model_path}")
    out.print(f"record: {outcome.out / 'harden.json'}  report: {outcome.out / 'report.md'}")
