"""Stealability curves: how closely a surrogate trained on N answered queries imitates the
target, for each output mode, as N grows.

One set of queries is answered once with full probabilities; each output mode is simulated
from those answers (label only, rounded, ...), so the modes differ only in what the client
saw. At every checkpoint (a prefix of the queries) one surrogate per mode is trained and
measured on held-out rows: fidelity (agreement with the target's labels), balanced fidelity
(agreement averaged over the target's classes, which a constant answer cannot fake on
imbalanced data) and accuracy (against the true labels, when known).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.ip.surrogate import AnswerTransform, fit_surrogate, resolve_learner

DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def checkpoints(total: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> tuple[int, ...]:
    """Distinct, increasing query counts at the given fractions of `total` (at least 1)."""
    if total < 1:
        raise UsageError(f"a stealability curve needs at least one query, got {total}")
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise UsageError(f"checkpoint fractions must lie in (0, 1], got {list(fractions)}")
    return tuple(sorted({max(1, round(total * f)) for f in fractions}))


@dataclass(frozen=True)
class HeldOut:
    """The rows fidelity is measured on: features, the target's labels, true labels."""

    x: np.ndarray
    target_labels: np.ndarray
    true_labels: np.ndarray | None = None

    @property
    def majority_fidelity(self) -> float:
        """Agreement a constant answer (the target's most common label) gets for free."""
        counts = np.bincount(np.asarray(self.target_labels, dtype=np.int64))
        return float(counts.max() / max(len(self.target_labels), 1))

    def target_accuracy(self) -> float | None:
        """The target's own accuracy on these rows, when true labels are known."""
        if self.true_labels is None:
            return None
        return float(np.mean(self.target_labels == self.true_labels))


@dataclass(frozen=True)
class CurvePoint:
    """One checkpoint of one mode."""

    queries: int
    fidelity: float
    balanced_fidelity: float
    accuracy: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "queries": self.queries,
            "fidelity": self.fidelity,
            "balanced_fidelity": self.balanced_fidelity,
            "accuracy": self.accuracy,
        }


@dataclass(frozen=True)
class StealCurve:
    """Fidelity and accuracy against the number of queries for one output mode."""

    mode: str
    points: tuple[CurvePoint, ...]

    @property
    def final(self) -> CurvePoint:
        """The point at the largest query count."""
        return self.points[-1]

    def queries_to_reach(self, fidelity: float) -> int | None:
        """The first checkpoint whose fidelity is at least `fidelity` (None: never)."""
        return next((p.queries for p in self.points if p.fidelity >= fidelity), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"mode": self.mode, "points": [p.to_dict() for p in self.points]}


@dataclass(frozen=True)
class Stealability:
    """Every mode's curve plus what they are measured against."""

    curves: tuple[StealCurve, ...]
    eval_rows: int
    majority_fidelity: float
    target_accuracy: float | None
    learner: str
    learner_note: str | None = None  # why the learner differs from the one asked for

    def curve(self, mode: str) -> StealCurve:
        """The curve of one mode; UsageError when it was not measured."""
        for c in self.curves:
            if c.mode == mode:
                return c
        raise UsageError(f"no stealability curve for mode {mode!r}")

    @property
    def modes(self) -> tuple[str, ...]:
        """Names of the measured modes, in order."""
        return tuple(c.mode for c in self.curves)

    def lift(self, fidelity: float) -> float:
        """How much of the gap above the majority baseline a fidelity closes (kappa-like):
        0 for a constant answer, 1 for a perfect copy."""
        gap = 1.0 - self.majority_fidelity
        return 0.0 if gap <= 0 else (fidelity - self.majority_fidelity) / gap

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "eval_rows": self.eval_rows,
            "majority_fidelity": self.majority_fidelity,
            "target_accuracy": self.target_accuracy,
            "learner": self.learner,
            **({"learner_note": self.learner_note} if self.learner_note else {}),
            "curves": {c.mode: c.to_dict()["points"] for c in self.curves},
        }


def measure_point(surrogate_labels: np.ndarray, held: HeldOut, queries: int) -> CurvePoint:
    """Fidelity, balanced fidelity and accuracy of a surrogate's labels on the held-out rows."""
    same = surrogate_labels == held.target_labels
    per_class = [float(same[held.target_labels == c].mean()) for c in np.unique(held.target_labels)]
    accuracy = (
        None if held.true_labels is None else float(np.mean(surrogate_labels == held.true_labels))
    )
    return CurvePoint(queries, float(same.mean()), float(np.mean(per_class)), accuracy)


def steal_curves(
    queries: np.ndarray,
    proba: np.ndarray,
    held: HeldOut,
    *,
    modes: Mapping[str, AnswerTransform],
    sizes: Sequence[int],
    learner: str = "auto",
    image_shape: tuple[int, ...] | None = None,
    seed: int = 0,
    should_stop: Callable[[], bool] = lambda: False,
) -> Stealability:
    """Train one surrogate per mode and checkpoint on prefixes of (`queries`, `proba`) and
    measure each on `held`. Stops adding checkpoints once `should_stop()` is true (every
    mode keeps the same checkpoints); at least the first checkpoint is always measured.
    `learner` "auto" trains a small CNN when `image_shape` is given, an MLP otherwise."""
    x = np.asarray(queries, dtype=np.float64)
    p = np.asarray(proba, dtype=np.float64)
    if len(x) != len(p) or len(x) == 0:
        raise UsageError(f"{len(x)} queries with {len(p)} answers: need equal, non-zero counts")
    if not modes:
        raise UsageError("no output modes to measure")
    learner, note = resolve_learner(learner, image_shape)
    points: dict[str, list[CurvePoint]] = {m: [] for m in modes}
    for i, n in enumerate(s for s in sizes if s <= len(x)):
        if i > 0 and should_stop():
            break
        for mode, transform in modes.items():
            answers = transform(p[:n])
            model = fit_surrogate(
                x[:n], answers, learner=learner, seed=seed, image_shape=image_shape
            )
            points[mode].append(measure_point(model.predict(held.x), held, n))
    if not points[next(iter(modes))]:
        raise UsageError(f"no checkpoint fits within the {len(x)} queries answered")
    curves = tuple(StealCurve(m, tuple(pts)) for m, pts in points.items())
    return Stealability(
        curves, len(held.x), held.majority_fidelity, held.target_accuracy(), learner, note
    )
