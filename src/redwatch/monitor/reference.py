"""What a target's live traffic is compared with: the feature baseline of its reference
data, the model's classes, the mean and spread of its scores and its accuracy / AUC on that
data. Built once per target from the registration's data CSV and model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from redwatch.engine.data import Dataset, align
from redwatch.exceptions import RedwatchError
from redwatch.monitor.baseline import Baseline, build_baseline
from redwatch.monitor.labels import PerformanceBaseline, plain
from redwatch.targets.base import Target

MAX_SCORED = 5_000


@dataclass(frozen=True)
class Reference:
    """Baseline plus the model facts the streams and label windows need."""

    baseline: Baseline
    classes: tuple[Any, ...] | None
    score_center: float | None
    score_scale: float | None
    performance: PerformanceBaseline
    rows: np.ndarray

    @property
    def binary(self) -> bool:
        """True for a two-class model (its score is the positive-class probability)."""
        return self.classes is not None and len(self.classes) == 2


def scores_of(proba: np.ndarray) -> np.ndarray:
    """The score stream of probability rows: positive-class probability for two classes,
    the top probability otherwise."""
    proba = np.asarray(proba, dtype=np.float64)
    return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)


def build_reference(
    data: Dataset, target: Target | None, monitored: Sequence[str | int] | None = None
) -> Reference:
    """The reference of `data` (aligned to the model when there is one); model statistics
    are left out when there is no model or it cannot answer."""
    if target is not None:
        data = align(data, target.feature_names, target.n_features)
    baseline = build_baseline(data.x, data.feature_names, monitored=monitored)
    rows = data.x[:MAX_SCORED]
    if target is None:
        return Reference(baseline, None, None, None, PerformanceBaseline(), rows)
    classes = None if target.classes is None else tuple(plain(c) for c in target.classes)
    try:
        return _with_model(baseline, target, data, classes)
    except RedwatchError:
        return Reference(baseline, classes, None, None, PerformanceBaseline(), rows)


def _with_model(
    baseline: Baseline, target: Target, data: Dataset, classes: tuple[Any, ...] | None
) -> Reference:
    """Scores, accuracy and (binary) AUC of the model on the reference rows."""
    rows = data.x[:MAX_SCORED]
    center = scale = auc = accuracy = None
    if target.capabilities.scores:
        proba = target.predict_proba(rows)
        scores = scores_of(proba)
        center, scale = float(scores.mean()), float(scores.std())
        predicted = proba.argmax(axis=1)
    else:
        predicted = target.predict(rows)
    if data.y_raw is not None:
        y = target.encode_labels(data.y_raw[:MAX_SCORED])
        accuracy = float(np.mean(predicted == y))
        if target.capabilities.scores and proba.shape[1] == 2 and 0 < y.sum() < len(y):
            auc = float(roc_auc_score(y == 1, proba[:, 1]))
    performance = PerformanceBaseline(accuracy, auc)
    return Reference(baseline, classes, center, scale, performance, rows)
