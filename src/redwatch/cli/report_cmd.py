"""`redwatch report CAMPAIGN_ID`: re-render a stored campaign in any format."""

from __future__ import annotations

from pathlib import Path

import typer

from redwatch.cli.console import open_store, out
from redwatch.exceptions import UsageError
from redwatch.registry import get as get_plugin
from redwatch.results import CampaignResult


def report(
    campaign_id: str = typer.Argument(..., help="Campaign id or unique prefix."),
    fmt: str = typer.Option("html", "--format", help="json, html, sarif, junit or md"),
    out_dir: Path = typer.Option(Path("redwatch-report"), "--out", help="Folder to write to."),
    stdout: bool = typer.Option(False, "--stdout", help="Print instead of writing a file."),
) -> None:
    """Write the report of a stored campaign."""
    reporter = get_plugin("redwatch.reporters", fmt)()
    with open_store() as store:
        stored = store.get_campaign(campaign_id)
    if stored is None:
        raise UsageError(f"no campaign with id {campaign_id!r}")
    if stored["status"] != "completed":
        raise UsageError(f"campaign {campaign_id} is {stored['status']}; it has no report")
    text = reporter.render(CampaignResult.from_dict(stored))
    if stdout:
        print(text)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"report{reporter.extension}"
    path.write_text(text, encoding="utf-8")
    out.print(str(path))
