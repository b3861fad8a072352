"""Assess one sensitive attribute: groups, fairlearn's per-group table, the disparities
between the groups large enough to judge, their bootstrap intervals and the verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.fairness.bootstrap import interval, replicate_disparities
from redwatch.fairness.frame import group_table, metric_frame, point_disparities
from redwatch.fairness.groups import Groups, make_groups
from redwatch.fairness.rates import DISPARITIES, Outcomes


@dataclass(frozen=True)
class Settings:
    """How to judge: bootstrap replicates, numeric bins, smallest judged group, the
    four-fifths threshold and the largest tolerated equalized-odds difference."""

    bootstrap: int = 200
    bins: int = 4
    min_group: int = 30
    four_fifths: float = 0.8
    max_eo_difference: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class Assessment:
    """Result for one attribute: the per-group table, point values with intervals (empty
    when fewer than two groups can be judged) and which rules fail."""

    attribute: str
    groups: list[dict[str, Any]]
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    four_fifths_fails: bool
    eo_fails: bool
    note: str = ""

    @property
    def judged(self) -> bool:
        """True when two or more groups were large enough to compare."""
        return bool(self.values)

    @property
    def unfair(self) -> bool:
        """True when a rule fails beyond its bootstrap interval."""
        return self.four_fifths_fails or self.eo_fails


def assess(
    attribute: str,
    values: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    favourable: int,
    settings: Settings,
) -> Assessment:
    """Table for every group; disparities, intervals and verdict over the judged groups."""
    groups = make_groups(values, settings.bins)
    labels = np.asarray(groups.names, dtype=object)[groups.codes]
    judged = _judged(groups, settings.min_group)
    table = group_table(metric_frame(y_true, y_pred, labels, favourable), groups.names, judged)
    if len(judged) < 2:
        note = f"fewer than two groups with at least {settings.min_group} rows"
        return Assessment(attribute, table, {}, {}, False, False, note)
    keep = np.isin(labels, sorted(judged))
    point = point_disparities(metric_frame(y_true[keep], y_pred[keep], labels[keep], favourable))
    codes = np.unique(groups.codes[keep], return_inverse=True)[1]
    out = Outcomes.of(y_true[keep], y_pred[keep], favourable)
    boot = replicate_disparities(out, codes, len(judged), settings.bootstrap, settings.seed)
    intervals = {name: interval(boot[name]) for name in DISPARITIES}
    return Assessment(
        attribute,
        table,
        point,
        intervals,
        four_fifths_fails=intervals["dp_ratio"][1] < settings.four_fifths,
        eo_fails=intervals["eo_difference"][0] > settings.max_eo_difference,
    )


def _judged(groups: Groups, min_group: int) -> set[str]:
    """Names of the groups with at least min_group rows."""
    sizes = groups.sizes()
    return {name for name, size in zip(groups.names, sizes, strict=True) if size >= min_group}
