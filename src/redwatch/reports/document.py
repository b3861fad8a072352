"""Format-neutral views of a campaign report shared by every reporter: the plain JSON
document, metrics split into scalars and tables, robustness curves, resolved references."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from redwatch.exceptions import ReportError
from redwatch.findings import Severity, jsonable
from redwatch.frameworks import Reference, resolve
from redwatch.results import CampaignResult

SEVERITY_ORDER: tuple[str, ...] = tuple(s.label for s in sorted(Severity, reverse=True))
NORM_LABELS = {"inf": "L∞", "2": "L2", "1": "L1", "0": "L0"}
LIST_PREVIEW = 10
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def document(result: CampaignResult) -> dict[str, Any]:
    """`result.to_dict()` with every value turned into plain JSON types (the JSON report)."""
    doc = plain(result.to_dict())
    assert isinstance(doc, dict)
    return doc


def plain(value: Any) -> Any:
    """Recursively convert numpy values, tuples, enums and paths to JSON types; non-finite
    floats become None. Anything else that JSON cannot hold raises ReportError."""
    try:
        return jsonable(value, strict=True)
    except TypeError as exc:
        raise ReportError(str(exc).replace("written as JSON", "written to a report")) from None


def format_value(value: Any) -> str:
    """Short human text for a value: 4 significant digits, 'n/a' for missing, long lists cut
    to their first items (the JSON report keeps them whole)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) > LIST_PREVIEW:
        head = json.dumps(value[:LIST_PREVIEW], separators=(",", ":"), ensure_ascii=False)
        return f"{head[:-1]},… ({len(value)} items)]"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def by_severity(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings ordered worst first (stable within a severity), for human-facing reports."""
    return sorted(findings, key=lambda f: SEVERITY_ORDER.index(f["severity"]))


@dataclass(frozen=True)
class MetricTable:
    """A metric whose value is a list of records (e.g. a robustness curve), as a table."""

    name: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class MetricView:
    """Metrics split for display: scalars (dotted names for nested dicts), record tables,
    and anything else as compact JSON text."""

    scalars: list[tuple[str, Any]]
    tables: list[MetricTable]
    other: list[tuple[str, str]]


def split_metrics(metrics: dict[str, Any]) -> MetricView:
    """Sort every metric into scalars, tables or other; order follows the metrics dict."""
    view = MetricView([], [], [])
    _split_into(view, "", metrics)
    return view


def brief(metrics: dict[str, Any]) -> str:
    """One-line summary of metrics ('samples=64, curve: 5 rows') for compact table cells."""
    view = split_metrics(metrics)
    parts = [f"{name}={format_value(value)}" for name, value in view.scalars + view.other]
    parts += [f"{t.name}: {len(t.rows)} rows" for t in view.tables]
    return ", ".join(parts)


def _split_into(view: MetricView, prefix: str, metrics: dict[str, Any]) -> None:
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if value is None or isinstance(value, str | int | float | bool):
            view.scalars.append((name, value))
        elif isinstance(value, dict):
            _split_into(view, f"{name}.", value)
        elif _is_records(value):
            view.tables.append(_table(name, value))
        else:
            view.other.append((name, format_value(value)))


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(name: str, records: list[dict[str, Any]]) -> MetricTable:
    columns: list[str] = []
    for record in records:
        columns.extend(k for k in record if k not in columns)
    rows = [[record.get(c) for c in columns] for record in records]
    return MetricTable(name, columns, rows)


@dataclass(frozen=True)
class Curve:
    """Accuracy (and attack success rate) against perturbation size ε for one finding."""

    fingerprint: str
    probe: str
    metric: str
    norm: str
    epsilon: list[float]
    accuracy: list[float]
    success_rate: list[float | None]
    clean_accuracy: float | None = None
    reference_epsilon: float | None = None

    @property
    def norm_label(self) -> str:
        """'L∞', 'L2', ... or '' when the finding does not say."""
        return NORM_LABELS.get(self.norm, f"L{self.norm}" if self.norm else "")

    @property
    def label(self) -> str:
        """Legend text: probe, norm, and the metric name when it is not plain 'curve'."""
        parts = [self.probe]
        if self.norm_label:
            parts.append(self.norm_label)
        if self.metric != "curve":
            parts.append(self.metric)
        return " ".join(parts)


def curves_of(finding: dict[str, Any]) -> list[Curve]:
    """Every robustness curve in a finding's metrics (lists of records with numeric
    'epsilon' and 'accuracy'), nested dicts included; points sorted by ε."""
    metrics = finding.get("metrics") or {}
    found: list[Curve] = []
    for name, records in _record_lists("", metrics):
        points = [r for r in records if _num(r.get("epsilon")) and _num(r.get("accuracy"))]
        if not points or len(points) != len(records):
            continue
        points.sort(key=lambda r: float(r["epsilon"]))
        found.append(
            Curve(
                fingerprint=str(finding.get("fingerprint", "")),
                probe=str(finding.get("probe", "")),
                metric=name,
                norm=str(metrics.get("norm") or ""),
                epsilon=[float(r["epsilon"]) for r in points],
                accuracy=[float(r["accuracy"]) for r in points],
                success_rate=[_opt_float(r.get("success_rate")) for r in points],
                clean_accuracy=_opt_float(metrics.get("clean_accuracy")),
                reference_epsilon=_opt_float(metrics.get("epsilon")),
            )
        )
    return found


def _record_lists(prefix: str, metrics: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.extend(_record_lists(f"{prefix}{key}.", value))
        elif _is_records(value):
            out.append((f"{prefix}{key}", value))
    return out


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _opt_float(value: Any) -> float | None:
    return float(value) if _num(value) else None


def references(ids: list[str]) -> list[Reference]:
    """Resolve reference ids to framework, name and link; unknown ids keep their id as name."""
    return [resolve(i) or Reference(i, "other", i, None) for i in ids]


def local_href(path: str | None) -> str | None:
    """A relative link for an evidence path, or None when the path is missing or carries a
    URL scheme (never link 'javascript:' or remote locations from a report)."""
    if not path or _SCHEME.match(path) or path.startswith(("//", "\\\\")):
        return None
    return path.replace("\\", "/")


def probe_category(probe: str) -> str:
    """Family of a probe from its dotted name ('evasion.pgd' -> 'evasion')."""
    return probe.split(".", 1)[0] if "." in probe else probe


def findings_by_probe(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Findings of the document grouped by probe name, in document order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for finding in doc["findings"]:
        grouped.setdefault(finding["probe"], []).append(finding)
    return grouped


def worst_severity(findings: list[dict[str, Any]]) -> str | None:
    """Highest severity label among findings, or None."""
    labels = {f["severity"] for f in findings}
    return next((s for s in SEVERITY_ORDER if s in labels), None)
