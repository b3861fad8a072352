"""`redwatch integrity scan`: look for hidden code and unsafe structure in model artifacts.

Exit codes: 0 every file safe; 1 something unsafe (or suspicious with --strict);
2 usage error or a file that cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from redwatch.cli.console import SEVERITY_STYLE, out
from redwatch.exceptions import DataError, UsageError
from redwatch.integrity.artifact_report import REFERENCES, FileReport
from redwatch.integrity.pickle_policy import Verdict
from redwatch.integrity.scan import scan_path
from redwatch.integrity.scan_sarif import sarif_log

_STYLE = {Verdict.SAFE: "green", Verdict.SUSPICIOUS: "yellow", Verdict.UNSAFE: "bold red"}


def integrity_scan(
    paths: list[Path] = typer.Argument(..., help="Model files or folders to scan."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report on stdout."),
    sarif: Path | None = typer.Option(None, "--sarif", help="Also write a SARIF 2.1.0 log."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on suspicious files too."),
    no_fickling: bool = typer.Option(
        False, "--no-fickling", help="Skip fickling's second opinion on pickles."
    ),
) -> None:
    """Scan model artifacts without loading them; report a verdict per file."""
    reports = _scan_all(paths, use_fickling=not no_fickling)
    if sarif is not None:
        from redwatch import __version__

        _write(sarif, json.dumps(sarif_log(reports, version=__version__), indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(_document(reports, strict), indent=2))
    else:
        _print(reports)
    unreadable = [r for r in reports if r.error]
    if unreadable:
        raise DataError(f"cannot read {unreadable[0].path}: {unreadable[0].error}")
    raise typer.Exit(_exit_code(reports, strict))


def _scan_all(paths: list[Path], *, use_fickling: bool) -> list[FileReport]:
    reports: list[FileReport] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        reports.extend(scan_path(path, use_fickling=use_fickling))
    return reports


def _exit_code(reports: list[FileReport], strict: bool) -> int:
    failing = {Verdict.UNSAFE, Verdict.SUSPICIOUS} if strict else {Verdict.UNSAFE}
    return 1 if any(r.verdict in failing for r in reports) else 0


def _document(reports: list[FileReport], strict: bool) -> dict[str, object]:
    counts = {v.value: sum(r.verdict is v for r in reports) for v in Verdict}
    return {
        "files": [r.to_dict() for r in reports],
        "summary": {**counts, "total": len(reports), "strict": strict},
        "references": list(REFERENCES),
    }


def _print(reports: list[FileReport]) -> None:
    for report in reports:
        style = _STYLE[report.verdict]
        head = f"[{style}]{report.verdict.value.upper():<10}[/] {report.path}"
        out.print(f"{head} [dim]({report.format})[/]")
        for item in report.offending:
            sev = item.severity.name.lower()
            where = f" {item.opcode} @ {item.offset}" if item.offset is not None else ""
            out.print(
                f"    [{SEVERITY_STYLE[sev]}]{sev}[/] {item.symbol or item.kind}{where}"
                f" [dim]{item.location}[/]  {item.message}",
                markup=True,
            )
        if report.error:
            out.print(f"    [red]{report.error}[/]")
    counts = {v: sum(r.verdict is v for r in reports) for v in Verdict}
    out.print(
        f"{len(reports)} file(s): {counts[Verdict.SAFE]} safe, "
        f"{counts[Verdict.SUSPICIOUS]} suspicious, {counts[Verdict.UNSAFE]} unsafe  "
        f"[dim]refs: {', '.join(REFERENCES)}[/]"
    )


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def register(app: typer.Typer) -> None:
    """Add `scan` to the `redwatch integrity` group."""
    app.command("scan")(integrity_scan)
