"""`redwatch data scan`: find label flips, duplicates and out-of-distribution rows (and
backdoors in images) in a labelled CSV, report them, and optionally quarantine them.

Exit 0 when no row is flagged, 1 when some are, 2 for bad options or bad data (nothing is
written then).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from redwatch.cli.console import parse_shape
from redwatch.exceptions import UsageError
from redwatch.ip.signed import write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from redwatch.data.scan import ScanResult

SHOWN_ROWS = 20

app = typer.Typer(help="Check training data for poisoned, mislabelled or duplicated rows.")


@app.command("scan")
def scan(
    data: Path = typer.Argument(
        ..., help="CSV with a header row: a label column, or user,item,rating,timestamp."
    ),
    label: str | None = typer.Option(
        None, "--label", help="Label column (--kind interactions: rating column, default rating)."
    ),
    kind: str = typer.Option("tabular", "--kind", help="tabular, image or interactions."),
    image_shape: str | None = typer.Option(
        None, "--image-shape", help="Image shape for --kind image, e.g. 1,28,28."
    ),
    out: Path | None = typer.Option(None, "--out", help="Folder for data-scan.json/.html."),
    quarantine: Path | None = typer.Option(
        None, "--quarantine", help="CSV for the flagged rows (clean rows: <stem>.clean.csv)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    seed: int = typer.Option(0, "--seed", help="Seed for folds and models."),
    model: str | None = typer.Option(
        None, "--model", help="Your model (file or pkg.mod:attr): retrained per fold."
    ),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
) -> None:
    """Scan a labelled CSV: exit 0 clean, 1 suspicious rows found, 2 bad input."""
    # imported here: scikit-learn and cleanlab would add seconds to every redwatch command
    from redwatch.data.quarantine import write_quarantine
    from redwatch.data.report_html import render_html
    from redwatch.data.scan import ScanOptions, scan_file

    options = ScanOptions(
        kind=kind,
        image_shape=_shape(image_shape),
        seed=seed,
        model=model,
        trust_model=trust_model,
        model_class=model_class,
    )
    result = scan_file(data, label, options)
    doc = result.to_dict()
    written: list[Path] = []
    if out is not None:
        write_json_atomic(out / "data-scan.json", doc)
        write_text_atomic(out / "data-scan.html", render_html(result))
        written += [out / "data-scan.json", out / "data-scan.html"]
    if quarantine is not None:
        rows = [f.row for f in result.flagged]
        written += list(write_quarantine(data, rows, quarantine, result.rows))
    if as_json:
        typer.echo(json.dumps(doc, indent=1))
    else:
        _print(result, written)
    if result.flagged:
        raise typer.Exit(1)


def _shape(text: str | None) -> tuple[int, ...] | None:
    """--image-shape as a tuple; the shared parser's message, naming this option."""
    try:
        return parse_shape(text)
    except UsageError as exc:
        raise UsageError(str(exc).replace("--input-shape", "--image-shape")) from None


def _print(result: ScanResult, written: list[Path]) -> None:
    """Human summary: counts per detector, the most suspicious rows, files written."""
    typer.echo(f"{result.source}: {len(result.flagged)} of {result.rows} rows flagged")
    for report in result.reports:
        typer.echo(f"  {report.name}: {len(report.flags)} row(s)")
    if result.kind == "interactions":  # every row of an account says the same: show clusters
        _print_clusters(result)
        for path in written:
            typer.echo(f"wrote {path}")
        return
    ranked = sorted(result.flagged, key=lambda f: (-f.score, f.row))
    for flag in ranked[:SHOWN_ROWS]:
        typer.echo(f"  row {flag.row} (score {flag.score:.2f}): {'; '.join(flag.reasons)}")
    if len(ranked) > SHOWN_ROWS:
        typer.echo(f"  ... and {len(ranked) - SHOWN_ROWS} more (--json lists all)")
    for path in written:
        typer.echo(f"wrote {path}")


def _print_clusters(result: ScanResult) -> None:
    """One line per flagged cluster of accounts: size, targets, a few user ids."""
    clusters = [c for r in result.reports for c in r.metrics.get("clusters", [])]
    for cluster in clusters[:SHOWN_ROWS]:
        targets = ", ".join(f"item {t['item']} rated {t['rating']:g}" for t in cluster["targets"])
        users = ", ".join(str(u) for u in cluster["users"][:5])
        more = f" and {cluster['accounts'] - 5} more" if cluster["accounts"] > 5 else ""
        typer.echo(f"  cluster of {cluster['accounts']} accounts ({targets}): users {users}{more}")
    if len(clusters) > SHOWN_ROWS:
        typer.echo(f"  ... and {len(clusters) - SHOWN_ROWS} more clusters (--json lists all)")
