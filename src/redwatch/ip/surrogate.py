"""Surrogate models trained from a prediction API's answers: what a model thief builds.

An answer is what the API returned for one query, as a row of class weights: the full
probabilities, a one-hot top-1 label, or rounded scores. A surrogate learns from those rows by
weighted duplication: each query appears once per class it got weight on, with that weight as
the sample weight. The weighted cross-entropy is then exactly the soft-label (distillation)
loss, so one scikit-learn learner handles every output mode. Pure functions, no metering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from redwatch.exceptions import UsageError

OUTPUT_MODES = ("probabilities", "label", "rounded")
LEARNERS = ("mlp", "gbm")
MIN_WEIGHT = 0.01  # soft targets below this weight are dropped before duplication

AnswerTransform = Callable[[np.ndarray], np.ndarray]
"""(n, K) probabilities -> (n, K) class weights the client gets to see."""


def label_answers(proba: np.ndarray) -> np.ndarray:
    """Top-1 label only: a one-hot row per query."""
    p = np.asarray(proba, dtype=np.float64)
    out = np.zeros_like(p)
    out[np.arange(len(p)), p.argmax(axis=1)] = 1.0
    return out


def rounded_answers(proba: np.ndarray, decimals: int = 1) -> np.ndarray:
    """Scores rounded to `decimals`; a row that rounds to all zeros keeps its top-1 label."""
    p = np.round(np.asarray(proba, dtype=np.float64), decimals)
    empty = p.sum(axis=1) <= 0
    if empty.any():
        p[empty] = label_answers(np.asarray(proba)[empty])
    return p


def output_modes(decimals: int = 1) -> dict[str, AnswerTransform]:
    """The three output modes an extraction probe compares, by name."""
    return {
        "probabilities": lambda p: np.asarray(p, dtype=np.float64),
        "label": label_answers,
        "rounded": lambda p: rounded_answers(p, decimals),
    }


def expand_soft(
    x: np.ndarray, weights: np.ndarray, min_weight: float = MIN_WEIGHT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, labels, sample weights): every row repeated once per class whose normalised
    weight is at least `min_weight`. A one-hot row comes out once with weight 1."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if w.ndim != 2 or len(w) != len(x):
        raise UsageError(f"answers must be (n, K) for {len(x)} rows, got shape {w.shape}")
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 0.0)
    rows, cols = np.nonzero(w >= min_weight)
    return np.asarray(x)[rows], cols.astype(np.int64), w[rows, cols]


@dataclass
class Surrogate:
    """A fitted stand-in for the target: `predict` gives class indices 0..K-1."""

    model: Any
    classes: np.ndarray  # class index of each output column of `model`
    scaler: tuple[np.ndarray, np.ndarray] | None = None  # (mean, std) for MLP inputs

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices for rows x; a one-class surrogate always answers that class."""
        x = np.asarray(x, dtype=np.float64)
        if self.model is None:
            return np.full(len(x), int(self.classes[0]), dtype=np.int64)
        if self.scaler is not None:
            x = (x - self.scaler[0]) / self.scaler[1]
        with threadpool_limits(1):
            idx = np.asarray(self.model.predict(x)).astype(np.int64)
        return idx


def fit_surrogate(
    x: np.ndarray,
    answers: np.ndarray,
    *,
    learner: str = "mlp",
    seed: int = 0,
    max_iter: int = 100,
    hidden: tuple[int, ...] = (64, 64),
) -> Surrogate:
    """Train a surrogate on queries `x` and the API's `answers` ((n, K) class weights).

    `learner` is "mlp" (standardised inputs, scikit-learn MLP, soft labels by weighted
    duplication) or "gbm" (histogram gradient boosting, same weighting; tables)."""
    if learner not in LEARNERS:
        raise UsageError(f"unknown surrogate learner {learner!r}; expected one of {LEARNERS}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise UsageError(f"a surrogate needs a non-empty 2-D query table, got {x.shape}")
    rows, labels, weights = expand_soft(x, answers)
    seen = np.unique(labels)
    if len(seen) < 2:
        return Surrogate(None, seen if len(seen) else np.zeros(1, np.int64))
    if learner == "gbm":
        return _fit_gbm(rows, labels, weights, seed, max_iter)
    return _fit_mlp(x, rows, labels, weights, seed, max_iter, hidden)


def _fit_gbm(
    rows: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int, max_iter: int
) -> Surrogate:
    """Histogram gradient boosting on the duplicated, weighted rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=min(max_iter, 200), learning_rate=0.1, random_state=seed, early_stopping=False
    )
    with threadpool_limits(1):
        model.fit(rows, labels, sample_weight=weights)
    return Surrogate(model, np.asarray(model.classes_, dtype=np.int64))


def _fit_mlp(
    x: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    seed: int,
    max_iter: int,
    hidden: tuple[int, ...],
) -> Surrogate:
    """Scikit-learn MLP on inputs standardised with the queries' own mean and spread."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    model = MLPClassifier(
        hidden_layer_sizes=hidden,
        max_iter=max_iter,
        learning_rate_init=2e-3,
        alpha=1e-4,
        random_state=seed,
        n_iter_no_change=8,
        tol=1e-3,
    )
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit((rows - mean) / std, labels, sample_weight=weights)
    return Surrogate(model, np.asarray(model.classes_, dtype=np.int64), (mean, std))
