"""Shadow (reference) models for membership inference: N models of the target's training
recipe, each trained on a seeded random half of a population, so that every row is a
member of about half of them and a non-member of the others (Carlini et al. 2022).

Kept per model and row: the membership matrix, the probability of the true class, and its
logit-scaled form log(p / (1 - p)), which is close to Gaussian across models and is what
LiRA fits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.recipe import TrainRecipe

TINY = 1e-30  # floor inside the logarithms: keeps log(p / (1 - p)) finite when p hits 1
StopFn = Callable[[], bool]
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class ShadowSet:
    """Per shadow model m and population row i: `membership[m, i]` (trained on it),
    `confidence[m, i]` (probability of the true class) and `scores[m, i]` (its logit)."""

    membership: np.ndarray
    confidence: np.ndarray
    scores: np.ndarray

    @property
    def n_models(self) -> int:
        """How many shadow models were trained (fewer than asked when time ran out)."""
        return int(self.membership.shape[0])

    def columns(self, rows: np.ndarray) -> ShadowSet:
        """The same models restricted to some population rows."""
        return ShadowSet(self.membership[:, rows], self.confidence[:, rows], self.scores[:, rows])


def true_class_confidence(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Probability each row's true class gets, shape (n,)."""
    p = np.asarray(proba, dtype=np.float64)
    return np.asarray(p[np.arange(len(p)), np.asarray(y, dtype=np.int64)], dtype=np.float64)


def logit_confidence(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log p_y - log(sum of the other classes' p): the sum over the other classes is taken
    directly instead of 1 - p_y, so no precision is lost as p_y approaches 1."""
    p = np.asarray(proba, dtype=np.float64)
    idx = np.asarray(y, dtype=np.int64)
    true = p[np.arange(len(p)), idx]
    mask = np.ones_like(p, dtype=bool)
    mask[np.arange(len(p)), idx] = False
    others = np.where(mask, p, 0.0).sum(axis=1)
    return np.asarray(np.log(true + TINY) - np.log(others + TINY), dtype=np.float64)


def half_splits(n_models: int, n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Membership matrix (n_models, n_rows): each row is in exactly half of the models
    (rounded down), chosen at random, so every model sees about half the population."""
    if n_models < 2:
        raise UsageError(f"membership inference needs at least 2 shadow models, got {n_models}")
    if n_rows < 4:
        raise UsageError(f"the shadow population needs at least 4 rows, got {n_rows}")
    order = rng.random((n_models, n_rows)).argsort(axis=0)
    return np.asarray(order < n_models // 2, dtype=bool)


def model_outputs(
    recipe: TrainRecipe, model: Any, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, logit score) of one model on rows (x, y)."""
    proba = recipe.predict_proba(model, x)
    return true_class_confidence(proba, y), logit_confidence(proba, y)


def train_shadows(
    recipe: TrainRecipe,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_models: int,
    seed: int,
    should_stop: StopFn | None = None,
    progress: ProgressFn | None = None,
) -> ShadowSet:
    """Train up to `n_models` shadows on half splits of (x, y) and score every row with each.
    Stops early (keeping at least two models) when `should_stop` says time is up."""
    membership = half_splits(n_models, len(x), np.random.default_rng(seed))
    conf, scores = [], []
    for m in range(n_models):
        if m >= 2 and should_stop is not None and should_stop():
            break
        rows = np.flatnonzero(membership[m])
        model = recipe.fit(x[rows], y[rows], seed=seed + 1 + m)
        c, s = model_outputs(recipe, model, x, y)
        conf.append(c)
        scores.append(s)
        if progress is not None:
            progress((m + 1) / n_models, f"shadow model {m + 1} of {n_models} trained")
    done = len(conf)
    return ShadowSet(membership[:done], np.vstack(conf), np.vstack(scores))
