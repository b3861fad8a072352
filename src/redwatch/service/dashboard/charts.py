"""Plotly figures as plain dictionaries ({"data": [...], "layout": {...}}), built in Python
and drawn in the browser by the plotly.min.js the service serves; None means "no data"
and the page shows an empty state instead of an empty chart."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from redwatch.service.dashboard.views import short_time

SEVERITY_COLORS = {
    "critical": "#7a0019",
    "high": "#c62828",
    "medium": "#e08600",
    "low": "#1f6fb2",
    "info": "#5b6475",
}
Figure = dict[str, Any]
MAX_BUCKETS = 24


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    """Shared look: small margins, legend below, axis titles."""
    return {
        "title": {"text": title, "font": {"size": 14}},
        "margin": {"l": 50, "r": 20, "t": 40, "b": 50},
        "height": 320,
        "legend": {"orientation": "h", "y": -0.25},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        **extra,
    }


def severity_trend(campaigns: list[dict[str, Any]]) -> Figure | None:
    """Findings per severity over completed campaigns (oldest first), one stacked bar per
    campaign; None without campaigns."""
    if not campaigns:
        return None
    x = [
        f"{i}. {c['target']} {short_time(c['started_at'])[5:16]}"
        for i, c in enumerate(campaigns, 1)
    ]
    data = [
        {
            "type": "bar",
            "name": label,
            "x": x,
            "y": [c["counts"].get(label, 0) for c in campaigns],
            "marker": {"color": color},
        }
        for label, color in SEVERITY_COLORS.items()
    ]
    return {
        "data": data,
        "layout": _layout("Findings per campaign", "campaign", "findings", barmode="stack"),
    }


def robustness(curves: list[dict[str, Any]]) -> Figure | None:
    """Accuracy (solid) and attack success rate (dashed) against perturbation size ε, one
    pair of lines per curve; None without curves."""
    if not curves:
        return None
    data: list[dict[str, Any]] = []
    for curve in curves:
        data.append(_line(curve["epsilon"], curve["accuracy"], f"accuracy {curve['label']}"))
        rates = [
            (e, r)
            for e, r in zip(curve["epsilon"], curve["success_rate"], strict=True)
            if r is not None
        ]
        if rates:
            xs, ys = zip(*rates, strict=True)
            data.append(_line(list(xs), list(ys), f"success rate {curve['label']}", dash="dash"))
    layout = _layout("Robustness under attack", "ε (perturbation size)", "rate")
    layout["yaxis"]["range"] = [-0.02, 1.02]
    return {"data": data, "layout": layout}


def _line(x: list[Any], y: list[Any], name: str, dash: str = "solid") -> dict[str, Any]:
    """One line trace with markers."""
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": x,
        "y": y,
        "line": {"dash": dash},
    }


def monitor(series: dict[str, list[tuple[str, float]]]) -> Figure | None:
    """Monitor values over time (PSI per feature, accuracy, detector statistics), one line
    per metric; None without points."""
    if not series:
        return None
    data = [
        _line([t for t, _ in points], [v for _, v in points], metric)
        for metric, points in sorted(series.items())
    ]
    return {"data": data, "layout": _layout("Drift and performance", "time", "value")}


def events_by_kind(events: list[dict[str, Any]]) -> Figure | None:
    """Guard events per kind over time, stacked bars in up to MAX_BUCKETS equal time
    buckets; None without events."""
    if not events:
        return None
    times = [float(e["timestamp"]) for e in events]
    start, end = min(times), max(times)
    width = max((end - start) / MAX_BUCKETS, 1.0)
    counts: dict[str, Counter[int]] = {}
    for event, t in zip(events, times, strict=True):
        counts.setdefault(event["kind"], Counter())[int((t - start) // width)] += 1
    buckets = sorted({b for c in counts.values() for b in c})
    x = [_iso(start + b * width) for b in buckets]
    data = [
        {"type": "bar", "name": kind, "x": x, "y": [c.get(b, 0) for b in buckets]}
        for kind, c in sorted(counts.items())
    ]
    return {
        "data": data,
        "layout": _layout("Guard events by kind", "time", "events", barmode="stack"),
    }


def _iso(timestamp: float) -> str:
    """ISO text of a POSIX timestamp in UTC (Plotly reads it as a date)."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
