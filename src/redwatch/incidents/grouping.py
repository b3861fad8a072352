"""Grouping, pure: which incident an alert joins. An alert joins the newest open (or
mitigated) incident of its target and cause whose last alert is at most `window_s` seconds
away from it; otherwise it opens a new one. An incident's severity is the maximum of its
alerts'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

JOINABLE = ("open", "mitigated")


@dataclass(frozen=True)
class Candidate:
    """What grouping needs to know of an existing incident."""

    id: int
    target: str
    cause: str
    status: str
    last_alert_at: float
    severity: int


def incident_to_join(
    candidates: Sequence[Candidate], target: str, cause: str, when: float, window_s: float
) -> Candidate | None:
    """The incident an alert of (target, cause) at `when` joins, or None for a new one."""
    fitting = [
        c
        for c in candidates
        if c.target == target
        and c.cause == cause
        and c.status in JOINABLE
        and abs(when - c.last_alert_at) <= window_s
    ]
    return max(fitting, key=lambda c: (c.last_alert_at, c.id), default=None)


def joined_severity(current: int, alert: int) -> int:
    """An incident's severity after one more alert: the worse of the two."""
    return max(current, alert)
