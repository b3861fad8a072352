"""Point estimates with fairlearn: a MetricFrame of per-group selection rate, TPR, FPR,
accuracy and count, and the between-group differences and ratios it derives."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from fairlearn.metrics import MetricFrame, count, selection_rate

from redwatch.fairness.rates import RATES

Metric = Callable[[np.ndarray, np.ndarray], float]


def metric_frame(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, favourable: int
) -> MetricFrame:
    """fairlearn MetricFrame by group; one-vs-rest for the favourable class, accuracy over
    all classes. TPR / FPR are NaN for a group without positives / negatives (fairlearn's
    own functions would report 0 there, which reads as a real rate)."""
    metrics: dict[str, Metric] = {
        "selection_rate": lambda t, p: float(selection_rate(t, p, pos_label=favourable)),
        "tpr": _rate(favourable, positives=True),
        "fpr": _rate(favourable, positives=False),
        "accuracy": lambda t, p: float(np.mean(np.asarray(t) == np.asarray(p))),
        "count": lambda t, p: float(count(t, p)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=groups)


def _rate(favourable: int, *, positives: bool) -> Metric:
    """TPR (positives=True) or FPR: share predicted favourable among rows that truly are
    (or are not) favourable."""

    def rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        truth = np.asarray(y_true) == favourable
        rows = truth if positives else ~truth
        if not rows.any():
            return float("nan")
        return float(np.mean(np.asarray(y_pred)[rows] == favourable))

    return rate


def group_table(
    frame: MetricFrame, order: tuple[str, ...], judged: set[str]
) -> list[dict[str, Any]]:
    """One row per group in `order`: count, the four rates (None where undefined) and
    whether the group is large enough to be judged."""
    rows = []
    by_group = frame.by_group
    for name in order:
        values = by_group.loc[name]
        row: dict[str, Any] = {"group": str(name), "count": int(values["count"])}
        row.update({rate: _number(values[rate]) for rate in RATES})
        row["judged"] = str(name) in judged
        rows.append(row)
    return rows


def point_disparities(frame: MetricFrame) -> dict[str, float]:
    """Demographic-parity and equalized-odds differences and ratios from the frame's
    between-group differences and ratios (NaN rates skipped, 0/0 selection ratio = 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diff, rat = frame.difference(), frame.ratio()
    rates = frame.by_group
    dp_ratio = float(rat["selection_rate"])
    if not np.isfinite(dp_ratio) and float(rates["selection_rate"].max()) == 0.0:
        dp_ratio = 1.0
    return {
        "dp_difference": float(diff["selection_rate"]),
        "dp_ratio": dp_ratio,
        "eo_difference": float(np.fmax(diff["tpr"], diff["fpr"])),
        "eo_ratio": float(
            np.fmin(_ratio_or_one(rat, rates, "tpr"), _ratio_or_one(rat, rates, "fpr"))
        ),
    }


def _ratio_or_one(rat: Any, rates: Any, name: str) -> float:
    """A rate's min/max ratio; 1 when every defined value is 0 (no gap)."""
    value = float(rat[name])
    defined = rates[name].dropna()
    if not np.isfinite(value) and len(defined) and float(defined.max()) == 0.0:
        return 1.0
    return value


def _number(value: Any) -> float | None:
    """A float, or None for NaN (JSON-friendly)."""
    number = float(value)
    return number if np.isfinite(number) else None
