"""The shape every data detector returns (a report of suspicious rows) and the merge that
turns several reports into one flag per row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RowFlag:
    """One suspicious row: 0-based index in file order, a score (higher = more suspicious,
    comparable within one detector) and the human-readable reasons."""

    row: int
    score: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form: row, score, reasons."""
        return {
            "row": self.row,
            "score": round(float(self.score), 6),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class DetectorReport:
    """What one detector found: its name, the flagged rows and plain-JSON metrics."""

    name: str
    flags: tuple[RowFlag, ...]
    metrics: dict[str, Any] = field(default_factory=dict)


def merge_reports(reports: Iterable[DetectorReport]) -> list[RowFlag]:
    """One flag per row across detectors: the highest score and every reason, in row order."""
    scores: dict[int, float] = {}
    reasons: dict[int, list[str]] = {}
    for report in reports:
        for flag in report.flags:
            scores[flag.row] = max(scores.get(flag.row, flag.score), flag.score)
            seen = reasons.setdefault(flag.row, [])
            seen.extend(r for r in flag.reasons if r not in seen)
    return [RowFlag(row, scores[row], tuple(reasons[row])) for row in sorted(scores)]
