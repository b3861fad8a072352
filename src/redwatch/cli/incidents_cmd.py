"""`redwatch incidents list|show|report`: incidents from the store (the service's alerts
grouped by target and cause) and their post-incident reports."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from redwatch.cli.console import SEVERITY_STYLE, open_store, out
from redwatch.exceptions import UsageError

app = typer.Typer(
    help="Incidents: list, show, and write post-incident reports.", no_args_is_help=True
)

DB_HELP = "Store URL (default: REDWATCH_DB_URL or the SQLite file under REDWATCH_HOME)."


@app.command("list")
def list_incidents(
    status: str | None = typer.Option(None, "--status", help="open, mitigated or closed."),
    target: str | None = typer.Option(None, "--target", help="Only this target."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Incidents, most recently updated first."""
    from redwatch.incidents.repo import list_incidents as listing

    with open_store(db) as store:
        rows = listing(store, status, target, limit)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} incident(s)")
    for column in ("id", "severity", "status", "target", "cause", "alerts", "updated"):
        table.add_column(column)
    for row in rows:
        style = SEVERITY_STYLE.get(row["severity"], "")
        table.add_row(
            str(row["id"]),
            f"[{style}]{row['severity']}[/]",
            row["status"],
            row["target"],
            row["cause"],
            str(row["alerts"]),
            str(row["updated_at"]),
        )
    out.print(table)


@app.command("show")
def show(
    incident_id: int = typer.Argument(..., help="Incident id."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One incident with its timeline."""
    from redwatch.incidents.repo import get_incident

    with open_store(db) as store:
        document = get_incident(store, incident_id)
    if document is None:
        raise UsageError(f"no incident {incident_id}")
    if as_json:
        out.print_json(json.dumps(document))
        return
    head = (
        f"incident {document['id']} [{document['severity']}] {document['status']}: "
        f"{document['title']} ({document['alert_count']} alert(s), opened {document['opened_at']})"
    )
    out.print(escape(head))
    for entry in document["timeline"]:
        out.print(
            escape(f"  {entry['time']}  {entry['kind']:<12} {entry['actor']}: {entry['text']}")
        )


@app.command("report")
def report(
    incident_id: int = typer.Argument(..., help="Incident id."),
    fmt: str = typer.Option("html", "--format", help="html or md."),
    out_file: Path = typer.Option(..., "--out", help="File to write."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write the post-incident report of an incident."""
    from redwatch.incidents.report import incident_report
    from redwatch.ip.signed import write_text_atomic

    with open_store(db) as store:
        text = incident_report(store, incident_id, fmt)
    if text is None:
        raise UsageError(f"no incident {incident_id}")
    write_text_atomic(out_file, text)
    out.print(f"report: {out_file}")
