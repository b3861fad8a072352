"""`redwatch findings list`: findings from the store, latest campaign per target."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from redwatch.cli.console import SEVERITY_STYLE, open_store, out
from redwatch.findings import Severity

app = typer.Typer(help="Query stored findings.", no_args_is_help=True)


@app.command("list")
def list_findings(
    target: str | None = typer.Option(None, "--target", help="Only this target."),
    severity: str | None = typer.Option(None, "--severity", help="At least this severity."),
    campaign: str | None = typer.Option(None, "--campaign", help="A campaign id (or prefix)."),
    all_campaigns: bool = typer.Option(False, "--all", help="Every campaign, not the latest."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List findings, worst first."""
    floor = Severity.parse(severity) if severity else None
    with open_store() as store:
        rows = store.list_findings(
            target=target, severity_at_least=floor, campaign=campaign, latest_only=not all_campaigns
        )
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    table = Table(title=f"{len(rows)} finding(s)")
    for col in ("severity", "target", "probe", "status", "title", "campaign"):
        table.add_column(col)
    for r in rows:
        sev = str(r["severity"])
        table.add_row(
            f"[{SEVERITY_STYLE.get(sev, '')}]{sev}[/]",
            str(r["target"]),
            str(r["probe"]),
            str(r.get("status", "")),
            str(r["title"]),
            str(r.get("campaign_id", ""))[:12],
        )
    out.print(table)
