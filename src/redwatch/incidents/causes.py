"""The cause of an event kind: what incidents are grouped by (with the target), and which
ATLAS techniques an incident of that cause involves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redwatch.frameworks import ATLAS, rows_for

# Event kinds that share one cause; any other kind is its own cause.
KIND_CAUSE = {
    "drift": "drift",
    "score_drift": "drift",
    "performance": "drift",
    "intrusion": "evasion",
    "anomaly": "evasion",
    "extraction": "extraction",
    "integrity": "integrity",
}
FINDING_KINDS = frozenset({"finding_new", "finding_regressed"})

# ATLAS techniques of the causes that are not finding categories.
CAUSE_TECHNIQUES: dict[str, tuple[str, ...]] = {
    "evasion": ("AML.T0015", "AML.T0043"),
    "extraction": ("AML.T0024.002", "AML.T0040"),
    "drift": ("AML.T0031",),
    "integrity": ("AML.T0010.003", "AML.T0031"),
    "rate_limited": ("AML.T0029", "AML.T0040"),
    "auth_failed": ("AML.T0040",),
    "invalid_input": ("AML.T0043",),
}


def cause_of(kind: str, data: Mapping[str, Any] | None = None) -> str:
    """The cause of an event: drift for the monitor's kinds, `finding:<category>` for new or
    regressed findings, evasion for intrusion and anomaly, else the kind itself."""
    if kind in FINDING_KINDS:
        category = str((data or {}).get("category") or "unknown")
        return f"finding:{category}"
    return KIND_CAUSE.get(kind, kind)


def techniques(cause: str) -> list[tuple[str, str]]:
    """(ATLAS id, name) of the techniques behind a cause; finding causes take their
    category's ATLAS rows from the framework mapping."""
    if cause.startswith("finding:"):
        category = cause.removeprefix("finding:")
        ids = [row.ref for row in rows_for(category) if row.ref in ATLAS]
    else:
        ids = list(CAUSE_TECHNIQUES.get(cause, ()))
    return [(ref, ATLAS[ref]) for ref in dict.fromkeys(ids) if ref in ATLAS]
