"""Delayed-label evaluation: once true labels arrive for served predictions, accuracy and
AUC per window of labelled predictions, each compared with the baseline's.

A window's accuracy is a drop when it is at least `min_drop` below the baseline AND a
one-sided binomial test rejects "accuracy = baseline" at `alpha`; AUC likewise with the
Hanley-McNeil standard error. Predictions and labels may be class values or class indices;
both are mapped onto class indices when the model's classes are known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

ACCURACY = "accuracy"
AUC = "auc"


def plain(value: Any) -> Any:
    """A JSON-like scalar for comparing labels: numpy scalars unwrapped, integral floats as
    int, bytes as text, numeric text as a number."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def class_index(value: Any, classes: Sequence[Any] | None) -> Any:
    """The class index of a label or prediction when it names one of `classes`, else the
    plain value (already an index, or an unknown label)."""
    v = plain(value)
    if classes is not None:
        lookup = {plain(c): i for i, c in enumerate(classes)}
        if not isinstance(v, bool) and v in lookup:
            return lookup[v]
    return v


@dataclass(frozen=True)
class PerformanceBaseline:
    """Accuracy and AUC of the model on the reference data (None when unknown)."""

    accuracy: float | None = None
    auc: float | None = None


@dataclass(frozen=True)
class PerformanceReport:
    """One window of labelled predictions: size, accuracy, AUC and whether each dropped."""

    n: int
    accuracy: float
    auc: float | None
    accuracy_p: float | None
    auc_z: float | None
    accuracy_drop: bool
    auc_drop: bool


@dataclass
class LabelledBuffer:
    """Labelled predictions waiting for their window: right or wrong, positive or not
    (binary models), score, observation time."""

    correct: list[bool] = field(default_factory=list)
    positive: list[bool | None] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        """How many labelled predictions wait."""
        return len(self.correct)

    def add(self, correct: bool, positive: bool | None, score: float | None, when: float) -> None:
        """Queue one labelled prediction."""
        self.correct.append(correct)
        self.positive.append(positive)
        self.scores.append(score)
        self.times.append(when)

    def take(self, n: int) -> LabelledBuffer:
        """The `n` oldest (by observation time) labelled predictions, removed from the buffer."""
        order = np.argsort(np.asarray(self.times), kind="stable")
        head, tail = order[:n], order[n:]
        out = LabelledBuffer(*(self._pick(head)))
        self.correct, self.positive, self.scores, self.times = self._pick(tail)
        return out

    def _pick(self, idx: np.ndarray) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        cols = (self.correct, self.positive, self.scores, self.times)
        return tuple([col[i] for i in idx] for col in cols)  # type: ignore[return-value]


def evaluate(
    window: LabelledBuffer,
    baseline: PerformanceBaseline,
    *,
    alpha: float = 0.01,
    min_drop: float = 0.02,
) -> PerformanceReport:
    """Accuracy and AUC of a window of labelled predictions and their drop tests."""
    correct = np.asarray(window.correct, dtype=bool)
    n = len(correct)
    accuracy = float(correct.mean()) if n else float("nan")
    acc_p = None
    acc_drop = False
    if baseline.accuracy is not None and n:
        acc_p = float(stats.binom.cdf(int(correct.sum()), n, min(baseline.accuracy, 1.0)))
        acc_drop = acc_p < alpha and baseline.accuracy - accuracy >= min_drop
    auc, z = window_auc(window), None
    auc_drop = False
    if auc is not None and baseline.auc is not None:
        positives = sum(bool(p) for p in window.positive)
        z = auc_z(baseline.auc, auc, positives, n - positives)
        auc_drop = z > float(stats.norm.ppf(1 - alpha)) and baseline.auc - auc >= min_drop
    return PerformanceReport(n, accuracy, auc, acc_p, z, acc_drop, auc_drop)


def window_auc(window: LabelledBuffer) -> float | None:
    """ROC AUC of the scores against the positive class, when every row has both and the
    window holds both classes."""
    if any(p is None for p in window.positive) or any(s is None for s in window.scores):
        return None
    y = np.asarray(window.positive, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, np.asarray(window.scores, dtype=np.float64)))


def auc_z(baseline: float, auc: float, n_pos: int, n_neg: int) -> float:
    """How many Hanley-McNeil standard errors (at the baseline AUC) `auc` lies below it."""
    a = min(max(baseline, 1e-6), 1 - 1e-6)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return float((baseline - auc) / np.sqrt(max(var, 1e-12)))
