"""Self-contained HTML report of a data scan: summary, per-detector figures and the flagged
rows (most suspicious first). Inline CSS, no scripts or remote resources; every value
from the data or the detectors is HTML-escaped."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from redwatch.data.scan import ScanResult

SHOWN_ROWS = 1000
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}"
    "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}.score{font-variant-numeric:tabular-nums}"
    ".verdict-bad{color:#b00020}.verdict-ok{color:#1b5e20}code{font-size:.9em}"
)


def render_html(result: ScanResult) -> str:
    """The whole report as one HTML document."""
    summary = result.summary()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>redwatch data scan: {escape(result.source)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Data scan of <code>{escape(result.source)}</code></h1>",
        _verdict(summary),
        "<h2>Detectors</h2>",
        _detectors(summary["detectors"]),
        "<h2>Flagged rows</h2>",
        _flagged(result.to_dict()["flagged"]),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _verdict(summary: dict[str, Any]) -> str:
    """One line: how many rows of how many are suspicious."""
    css = "verdict-bad" if summary["flagged"] else "verdict-ok"
    text = (
        f"{summary['flagged']} of {summary['rows']} rows flagged "
        f"(label column {summary['label']}, kind {summary['kind']})"
    )
    return f'<p class="{css}"><strong>{escape(text)}</strong></p>'


def _detectors(detectors: dict[str, dict[str, Any]]) -> str:
    """A table: detector name, flagged count, its other metrics as compact JSON."""
    rows = [
        f"<tr><td>{escape(name)}</td><td>{int(metrics.get('flagged', 0))}</td>"
        f"<td><code>{escape(_compact(metrics))}</code></td></tr>"
        for name, metrics in detectors.items()
    ]
    head = "<tr><th>detector</th><th>flagged</th><th>figures</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _flagged(flagged: list[dict[str, Any]]) -> str:
    """A table of flagged rows, capped at SHOWN_ROWS with a note on the rest."""
    if not flagged:
        return "<p>No row was flagged.</p>"
    rows = [
        f'<tr><td>{int(f["row"])}</td><td class="score">{float(f["score"]):.3f}</td>'
        f"<td>{'<br>'.join(escape(r) for r in f['reasons'])}</td></tr>"
        for f in flagged[:SHOWN_ROWS]
    ]
    head = "<tr><th>row</th><th>score</th><th>reasons</th></tr>"
    more = len(flagged) - SHOWN_ROWS
    note = f"<p>… and {more} more rows (the JSON lists all).</p>" if more > 0 else ""
    return f"<table>{head}{''.join(rows)}</table>{note}"


def _compact(metrics: dict[str, Any]) -> str:
    """Metrics other than the flagged count, as one line of JSON."""
    rest = {k: v for k, v in metrics.items() if k != "flagged"}
    return json.dumps(rest, sort_keys=True, default=str)
