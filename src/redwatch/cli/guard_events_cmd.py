"""`redwatch guard events` (recent guard events from the store, as a table or JSON) and
`redwatch guard replay` (push a spool folder into the store now)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.table import Table

from redwatch.cli.console import open_store, out
from redwatch.exceptions import UsageError
from redwatch.guard.spool import replay_folder

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
DETAIL_CHARS = 80


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (`90s`, `15m`, `2h`, `7d`) or an ISO time (UTC
    when it names no zone); UsageError otherwise."""
    match = DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * UNIT_S[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since must be a duration like 15m, 2h, 7d or an ISO time, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def events(
    kind: str | None = typer.Option(None, "--kind", help="Only this event kind."),
    stage: str | None = typer.Option(None, "--stage", help="Only events of this stage."),
    client: str | None = typer.Option(None, "--client", help="Only this client (ip:...)."),
    source: str | None = typer.Option(None, "--source", help="Only this recording source."),
    since: str | None = typer.Option(None, "--since", help="15m, 2h, 7d or an ISO time."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """List recent guard events from the store, newest first."""
    floor = parse_since(since) if since else None
    with open_store() as store:
        rows = store.list_events(
            kind=kind, stage=stage, client=client, source=source, since=floor, limit=limit
        )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} event(s)")
    for column in ("time", "kind", "stage", "action", "client", "source", "detail"):
        table.add_column(column)
    for row in rows:
        detail = str(row["detail"])
        table.add_row(
            str(row["time"])[:19].replace("T", " "),
            str(row["kind"]),
            str(row["stage"]),
            str(row["action"]),
            str(row["client"]),
            str(row["source"]),
            detail if len(detail) <= DETAIL_CHARS else detail[: DETAIL_CHARS - 1] + "…",
        )
    out.print(table)


def replay(
    spool_dir: Path = typer.Argument(..., help="The recorder's spool folder."),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, help="Events per transaction."),
) -> None:
    """Push every spool file of a folder into the store now; each file is deleted once its
    events are committed (events stored already are skipped)."""
    if not spool_dir.is_dir():
        raise UsageError(f"spool folder {spool_dir} does not exist")
    with open_store() as store:
        report = replay_folder(
            spool_dir, lambda rows: store.add_events(rows, "replay"), batch_size=batch_size
        )
    out.print(
        f"replayed {report.events} event(s) from {report.files} file(s): {report.stored} new,"
        f" {report.events - report.stored} already stored"
    )
    if report.bad:
        out.print(f"{report.bad} corrupt line(s) kept in *.jsonl.bad files in {spool_dir}")
    if report.busy:
        out.print(f"{report.busy} file(s) skipped: a running recorder is still writing them")
