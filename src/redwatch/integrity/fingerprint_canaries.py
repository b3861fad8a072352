"""Canary inputs for behavioral fingerprints: seeded rows of the data, plus points next to the
decision boundary found by bisection between rows the model labels differently.

Boundary-near points matter because a change to the weights moves the boundary: their outputs
shift first (and their labels flip first), long before confident points in the data move.
Only predictions are used, so this works on black-box and labels-only targets too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redwatch.exceptions import DataError
from redwatch.targets.base import Target

DATA = "data"
BOUNDARY = "boundary"
POOL_ROWS = 2000  # rows whose predictions are used to find pairs for the boundary search


@dataclass(frozen=True)
class CanarySet:
    """Canary inputs (rows x features, float64) and the kind of each row."""

    inputs: np.ndarray
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.kinds)


def select_canaries(
    target: Target,
    x: np.ndarray,
    *,
    n_canaries: int,
    boundary_fraction: float,
    steps: int,
    rng: np.random.Generator,
) -> CanarySet:
    """Seeded data rows plus boundary points; boundary slots that cannot be filled (the model
    predicts one class everywhere in the data) go to data rows instead."""
    x = _as_table(x)
    n_boundary = round(n_canaries * boundary_fraction)
    boundary = boundary_points(target, x, n_boundary, steps=steps, rng=rng)
    n_data = min(n_canaries - len(boundary), len(x))
    rows = np.sort(rng.permutation(len(x))[:n_data])
    inputs = np.vstack([x[rows], boundary]) if len(boundary) else x[rows].copy()
    kinds = (DATA,) * n_data + (BOUNDARY,) * len(boundary)
    return CanarySet(np.ascontiguousarray(inputs, dtype=np.float64), kinds)


def boundary_points(
    target: Target, x: np.ndarray, n: int, *, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """Up to n points within 2**-steps of a segment's length from the decision boundary.

    Each point lies on the segment between two data rows with different predicted labels and
    keeps the first row's label; its neighbour on the other side has another label.
    """
    if n <= 0:
        return np.empty((0, x.shape[1]))
    pool = x[np.sort(rng.permutation(len(x))[: min(POOL_ROWS, len(x))])]
    labels = target.predict(pool)
    pairs = _pairs(labels, n, rng)
    if len(pairs) == 0:
        return np.empty((0, x.shape[1]))
    start, end = pool[pairs[:, 0]], pool[pairs[:, 1]]
    t = bisect(target, start, end, labels[pairs[:, 0]], steps)
    points: np.ndarray = start + t[:, None] * (end - start)
    return points


def bisect(
    target: Target, start: np.ndarray, end: np.ndarray, label: np.ndarray, steps: int
) -> np.ndarray:
    """Largest t (to 2**-steps) on each segment start->end whose point still gets `label`.

    Invariant: the point at `lo` is predicted `label`, the point at `hi` is not; each step
    queries one batch of midpoints and halves every bracket.
    """
    lo = np.zeros(len(start))
    hi = np.ones(len(start))
    for _ in range(steps):
        mid = (lo + hi) / 2.0
        same = target.predict(start + mid[:, None] * (end - start)) == label
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return lo


def _pairs(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n index pairs (i, j) with different labels, spread over the pairs of classes present."""
    classes = np.unique(labels)
    if len(classes) < 2:
        return np.empty((0, 2), dtype=np.int64)
    by_class = {int(c): np.flatnonzero(labels == c) for c in classes}
    combos = [(int(a), int(b)) for a in classes for b in classes if a < b]
    order = rng.permutation(len(combos))
    out = []
    for k in range(n):
        a, b = combos[order[k % len(combos)]]
        if k % 2:
            a, b = b, a  # alternate which side the canary keeps
        out.append((rng.choice(by_class[a]), rng.choice(by_class[b])))
    return np.asarray(out, dtype=np.int64)


def _as_table(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or len(x) == 0:
        raise DataError(f"fingerprint data must be a non-empty table, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError("fingerprint data contains NaN or infinite values")
    return x
