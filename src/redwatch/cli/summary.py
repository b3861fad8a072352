"""Human summary of a campaign on the terminal."""

from __future__ import annotations

from rich.table import Table

from redwatch.cli.console import SEVERITY_STYLE, out
from redwatch.results import CampaignResult


def findings_table(result: CampaignResult) -> Table:
    """Severity, probe, status and title of each finding, worst first."""
    table = Table(title=f"{result.target}: {len(result.findings)} finding(s)")
    for col in ("severity", "probe", "status", "title"):
        table.add_column(col)
    for f in sorted(result.findings, key=lambda f: -f.severity):
        style = SEVERITY_STYLE[f.severity.label]
        table.add_row(
            f"[{style}]{f.severity.label}[/]",
            f.probe,
            result.diff.get(f.fingerprint, "new"),
            f.title,
        )
    return table


def print_summary(result: CampaignResult) -> None:
    """Findings table, probe runs that did not finish cleanly, fixed items, report paths."""
    out.print(findings_table(result))
    for run in result.probes:
        if run.status != "ok":
            out.print(f"  [dim]{run.probe}: {run.status} — {run.message}[/]")
    for fixed in result.fixed:
        out.print(f"  [green]fixed[/] {fixed['probe']}: {fixed['title']}")
    out.print(f"campaign {result.id}")
    for fmt, path in result.report_paths.items():
        out.print(f"  {fmt}: {path}")
