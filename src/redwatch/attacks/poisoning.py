"""Training-set poisoning, as arrays: label flips and BadNets-style backdoor triggers.

- Label flipping: a share k of the training rows gets a wrong label, either uniformly another
  class (random noise an attacker injects to degrade the model) or, targeted, rows of one
  source class relabelled to a chosen target class.
- Backdoor (Gu et al., 2017, BadNets): a trigger — a small patch of maximum-intensity pixels
  in an image corner, or a few tabular features set to an unusual value — is stamped on k of
  the training rows, which are relabelled to the attacker's target class. A model that
  learns the shortcut answers the target class whenever the trigger is present.

Pure functions: seeded numpy, no model, no I/O. Every constructor of a poisoned set returns
the indices of the rows it changed, so that detectors can be scored against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redwatch.attacks.base import make_rng
from redwatch.exceptions import ProbeError


@dataclass(frozen=True)
class PoisonedSet:
    """A training set after poisoning; `rows` are the (sorted) indices that were changed."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class FlippedLabels:
    """Labels after flipping; `rows` are the (sorted) indices whose label changed."""

    y: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class Trigger:
    """A backdoor trigger: the flattened columns it sets and the value of each."""

    columns: np.ndarray
    values: np.ndarray

    def describe(self, feature_names: tuple[str, ...] | None = None) -> str:
        """Short text for reports: which columns are set to what."""
        names = [
            feature_names[c] if feature_names is not None else f"column {c}" for c in self.columns
        ]
        if len(names) > 4:
            return f"{len(names)} columns set to {float(np.max(self.values)):.4g}"
        return ", ".join(f"{n} = {v:.4g}" for n, v in zip(names, self.values, strict=True))


def poison_count(n: int, rate: float) -> int:
    """Rows to poison for a share `rate` of `n` rows (rounded, at least one when rate > 0)."""
    if not 0.0 <= rate < 1.0:
        raise ProbeError(f"a poisoning rate must be in [0, 1), got {rate}")
    return 0 if rate == 0.0 else max(1, round(rate * n))


def choose_rows(
    eligible: np.ndarray, count: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """`count` distinct indices drawn from `eligible` (all of them when fewer), sorted."""
    pool = np.asarray(eligible, dtype=np.int64)
    count = min(max(count, 0), len(pool))
    return np.sort(make_rng(rng).choice(pool, size=count, replace=False)).astype(np.int64)


def flip_random(
    y: np.ndarray, rate: float, n_classes: int, rng: np.random.Generator | None = None
) -> FlippedLabels:
    """Untargeted flips: a share `rate` of the rows gets another class, uniformly drawn."""
    y = _labels(y, n_classes)
    gen = make_rng(rng)
    rows = choose_rows(np.arange(len(y)), poison_count(len(y), rate), gen)
    shift = gen.integers(1, n_classes, size=len(rows))  # 1..K-1: never the same class
    out = y.copy()
    out[rows] = (y[rows] + shift) % n_classes
    return FlippedLabels(out, rows)


def flip_targeted(
    y: np.ndarray,
    rate: float,
    n_classes: int,
    source: int,
    target: int,
    rng: np.random.Generator | None = None,
) -> FlippedLabels:
    """Targeted flips: rows of class `source` (a share `rate` of all rows, at most all but
    one of the source rows, so every class stays in the set) are relabelled `target`."""
    y = _labels(y, n_classes)
    if source == target or not (0 <= source < n_classes and 0 <= target < n_classes):
        raise ProbeError(
            f"source and target must be two different classes in 0..{n_classes - 1}, "
            f"got {source} and {target}"
        )
    eligible = np.flatnonzero(y == source)
    count = min(poison_count(len(y), rate), max(len(eligible) - 1, 0))
    rows = choose_rows(eligible, count, rng)
    out = y.copy()
    out[rows] = target
    return FlippedLabels(out, rows)


def image_trigger(image_shape: tuple[int, ...], size: int, value: float) -> Trigger:
    """A `size` x `size` patch in the bottom-right corner of every channel of images laid
    out (C, H, W) or (H, W) and flattened row-major."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ProbeError(f"image shape must be (C, H, W) or (H, W), got {image_shape}")
    c, h, w = shape
    if not 1 <= size <= min(h, w):
        raise ProbeError(f"trigger patch size must be in 1..{min(h, w)}, got {size}")
    grid = np.arange(c * h * w).reshape(c, h, w)
    columns = np.sort(grid[:, h - size :, w - size :].ravel())
    return Trigger(columns, np.full(len(columns), float(value)))


def tabular_trigger(
    x: np.ndarray,
    n_features: int,
    rng: np.random.Generator | None = None,
    *,
    beyond: float = 0.5,
) -> Trigger:
    """`n_features` columns (seeded choice, non-constant ones first) set to their observed
    maximum plus `beyond` times their range (0: exactly the observed extreme)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ProbeError(f"need a non-empty 2-D array to place a trigger, got shape {x.shape}")
    if not 1 <= n_features <= x.shape[1]:
        raise ProbeError(f"trigger features must be in 1..{x.shape[1]}, got {n_features}")
    if beyond < 0:
        raise ProbeError(f"the trigger's distance beyond the maximum must be >= 0, got {beyond}")
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = hi - lo
    gen = make_rng(rng)
    varied, constant = np.flatnonzero(span > 0), np.flatnonzero(span == 0)
    order = np.concatenate([gen.permutation(varied), gen.permutation(constant)])
    columns = np.sort(order[:n_features]).astype(np.int64)
    values = hi[columns] + beyond * np.where(span[columns] > 0, span[columns], 1.0)
    return Trigger(columns, values)


def stamp(x: np.ndarray, trigger: Trigger) -> np.ndarray:
    """A copy of the rows with the trigger's columns set to its values."""
    out = np.array(x, dtype=np.float64, copy=True)
    if out.ndim != 2 or (len(trigger.columns) and trigger.columns.max() >= out.shape[1]):
        raise ProbeError(f"trigger columns do not fit rows of shape {out.shape}")
    out[:, trigger.columns] = trigger.values
    return out


def backdoor(
    x: np.ndarray,
    y: np.ndarray,
    rate: float,
    trigger: Trigger,
    target: int,
    rng: np.random.Generator | None = None,
) -> PoisonedSet:
    """BadNets poisoning: a share `rate` of all rows, drawn from rows whose class is not
    `target`, gets the trigger and the label `target`."""
    y = np.asarray(y, dtype=np.int64)
    if len(x) != len(y):
        raise ProbeError(f"x has {len(x)} rows but y has {len(y)}")
    rows = choose_rows(np.flatnonzero(y != target), poison_count(len(y), rate), rng)
    out_x = np.array(x, dtype=np.float64, copy=True)
    out_x[rows] = stamp(out_x[rows], trigger)
    out_y = y.copy()
    out_y[rows] = target
    return PoisonedSet(out_x, out_y, rows)


def attack_success(predicted: np.ndarray, y_true: np.ndarray, target: int) -> float | None:
    """Share of triggered rows whose true class is not `target` that the model assigns to
    `target` (None when there is no such row)."""
    mask = np.asarray(y_true) != target
    if not mask.any():
        return None
    return float(np.mean(np.asarray(predicted)[mask] == target))


def _labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    """y as int64 class indices; ProbeError when one is outside 0..n_classes-1."""
    out = np.asarray(y, dtype=np.int64)
    if n_classes < 2:
        raise ProbeError(f"label flips need at least 2 classes, got {n_classes}")
    if len(out) and (out.min() < 0 or out.max() >= n_classes):
        raise ProbeError(f"labels must be class indices in 0..{n_classes - 1}")
    return out
