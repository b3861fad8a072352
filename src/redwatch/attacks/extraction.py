"""Model-extraction query traffic: what a thief sends to a prediction API, as arrays.

- Knockoff Nets (Orekondy et al., 2019), random strategy: rows drawn from a natural
  "transfer set" of another distribution than the victim's training data, mapped to the
  victim's input layout (`resize_images` for image models of another resolution).
- Jacobian-based dataset augmentation (Papernot et al., 2017): start from a few seed rows,
  label them through the oracle, fit a substitute, and add x + λ·sign(∂p_label/∂x) for every
  known row; each round doubles the set. The substitute here is a softmax regression in the
  box-normalized space (the paper uses a small network; the traffic has the same shape:
  children one signed step from their parents).

Pure functions: the oracle is the only interaction, no I/O; seeded, batched numpy. Used by
the extraction guard's tests and benchmarks and by theft simulations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from redwatch.attacks.base import make_rng
from redwatch.exceptions import ProbeError

OracleFn = Callable[[np.ndarray], np.ndarray]
"""rows (n, d) -> labels (n,) as the victim API answers them."""

_SAME = 1e-12  # two rows closer than this (normalized units) are the same query


def knockoff_queries(
    natural: np.ndarray, n: int, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Knockoff's random strategy: `n` rows of the natural transfer set in random order,
    without replacement while the set lasts (then it is reshuffled and reused)."""
    pool = np.asarray(natural, dtype=np.float64)
    if pool.ndim != 2 or len(pool) == 0:
        raise ProbeError(f"the transfer set must be a non-empty 2-D array, got {pool.shape}")
    if n < 0:
        raise ProbeError(f"the number of queries must be >= 0, got {n}")
    gen = make_rng(rng)
    rounds = -(-n // len(pool))
    order = [gen.permutation(len(pool)) for _ in range(rounds)]
    picks = np.concatenate(order)[:n] if order else np.zeros(0, dtype=np.int64)
    return pool[picks]


def resize_images(
    images: np.ndarray, shape: tuple[int, int], out: tuple[int, int], crop: int = 0
) -> np.ndarray:
    """Area-average flattened grayscale images of `shape` (h, w) to `out` (h', w'), after
    cropping `crop` pixels from every border: each output pixel is the mean of the input
    area it covers (fractional overlaps weighted), so no pixel is dropped or counted twice."""
    x = np.asarray(images, dtype=np.float64)
    h, w = shape
    if x.ndim != 2 or x.shape[1] != h * w:
        raise ProbeError(f"expected rows of {h}x{w} = {h * w} pixels, got shape {x.shape}")
    if crop < 0 or 2 * crop >= min(h, w) or min(out) < 1:
        raise ProbeError(f"cannot crop {crop} pixels and resize {shape} to {out}")
    cube = x.reshape(-1, h, w)[:, crop : h - crop, crop : w - crop]
    rows = _area_weights(h - 2 * crop, out[0])
    cols = _area_weights(w - 2 * crop, out[1])
    small = np.einsum("ih,nhw,jw->nij", rows, cube, cols)
    return np.asarray(small.reshape(len(x), -1))


def _area_weights(size: int, out: int) -> np.ndarray:
    """(out, size) matrix: row i averages the input cells that output cell i covers."""
    edges = np.linspace(0.0, float(size), out + 1)
    cells = np.arange(size, dtype=np.float64)
    lo = np.maximum(edges[:-1, None], cells[None, :])
    hi = np.minimum(edges[1:, None], cells[None, :] + 1.0)
    overlap = np.clip(hi - lo, 0.0, None)
    return np.asarray(overlap / overlap.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class JacobianTraffic:
    """Every row the augmentation sent, in order, the oracle's labels for them, and how many
    rows each round sent (the seeds are round 0)."""

    queries: np.ndarray
    labels: np.ndarray
    rounds: tuple[int, ...]


def jacobian_augmentation(
    oracle: OracleFn,
    seeds: np.ndarray,
    *,
    rounds: int = 5,
    step: float = 0.1,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    max_queries: int | None = None,
    tau: int | None = None,
    fit_steps: int = 200,
    rng: np.random.Generator | None = None,
) -> JacobianTraffic:
    """Papernot et al.'s augmentation against `oracle`, starting from `seeds`.

    Rows are normalized to [0, 1] by the box (`lower`, `upper`; default the seeds' range),
    steps of size `step` move only `mask` features and are clipped to the box; `tau` flips
    the step's sign every `tau` rounds (the paper's periodic step size). A child equal to a
    row already sent is not sent again. Stops after `rounds` or `max_queries` rows."""
    x0 = np.asarray(seeds, dtype=np.float64)
    low, span, m = _box(x0, lower, upper, mask)
    if rounds < 0 or step <= 0 or fit_steps < 1 or (tau is not None and tau < 1):
        raise ProbeError("Jacobian augmentation needs rounds >= 0, step > 0, fit_steps >= 1")
    limit = max_queries if max_queries is not None else np.iinfo(np.int64).max
    gen = make_rng(rng)
    known = np.clip((x0 - low) / span, 0.0, 1.0)[:limit]
    labels = np.asarray(oracle(low + known * span))
    sizes = [len(known)]
    for r in range(rounds):
        room = limit - len(known)
        sign = -1.0 if tau is not None and (r // tau) % 2 else 1.0
        children = _children(known, labels, sign * step, m, fit_steps, gen)[:room]
        if len(children) == 0:
            break
        labels = np.concatenate([labels, np.asarray(oracle(low + children * span))])
        known = np.vstack([known, children])
        sizes.append(len(children))
    return JacobianTraffic(low + known * span, labels, tuple(sizes))


def _box(
    x: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked seeds box: lower corner, positive span (1 where the range is empty), mask."""
    if x.ndim != 2 or len(x) == 0:
        raise ProbeError(f"seeds must be a non-empty 2-D array, got shape {x.shape}")
    d = x.shape[1]
    low = x.min(axis=0) if lower is None else np.asarray(lower, dtype=np.float64)
    high = x.max(axis=0) if upper is None else np.asarray(upper, dtype=np.float64)
    m = np.ones(d, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if low.shape != (d,) or high.shape != (d,) or m.shape != (d,):
        raise ProbeError(f"lower, upper and mask must each have {d} entries")
    span = np.where(high - low > 0, high - low, 1.0)
    return low, span, m


def _children(
    known: np.ndarray,
    labels: np.ndarray,
    step: float,
    mask: np.ndarray,
    fit_steps: int,
    gen: np.random.Generator,
) -> np.ndarray:
    """One augmentation round: every known row moved one signed step along the substitute's
    gradient of its label's probability, minus rows already known and duplicates."""
    classes, y = np.unique(labels, return_inverse=True)
    weights, bias = _fit_softmax(known, y, len(classes), fit_steps)
    grad = _label_gradient(known, y, weights, bias)
    sign = np.sign(grad) * mask
    flat = (sign == 0) & mask  # a dead gradient: step in a random direction instead
    sign[flat] = gen.choice(np.array([-1.0, 1.0]), size=int(flat.sum()))
    moved = np.clip(known + step * sign, 0.0, 1.0)
    return _new_rows(moved, known)


def _fit_softmax(
    x: np.ndarray, y: np.ndarray, k: int, steps: int, lr: float = 0.5, l2: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression by full-batch gradient descent (the substitute model)."""
    weights = np.zeros((x.shape[1], max(k, 2)))
    bias = np.zeros(max(k, 2))
    target = np.eye(max(k, 2))[y]
    for _ in range(steps):
        g = (_softmax(x @ weights + bias) - target) / len(x)
        weights -= lr * (x.T @ g + l2 * weights)
        bias -= lr * g.sum(axis=0)
    return weights, bias


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted for stability."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _label_gradient(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """∂p_y/∂x of the substitute for every row: p_y (w_y - Σ_j p_j w_j)."""
    p = _softmax(x @ weights + bias)
    rows = np.arange(len(x))
    return np.asarray(p[rows, y][:, None] * (weights[:, y].T - p @ weights.T))


def _new_rows(candidates: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Candidates that differ from every known row and from each other, in order."""
    _, first = np.unique(candidates, axis=0, return_index=True)
    unique = candidates[np.sort(first)]
    if len(unique) == 0:
        return unique
    sq_known = (known**2).sum(axis=1)
    d2 = (unique**2).sum(axis=1)[:, None] - 2.0 * unique @ known.T + sq_known[None, :]
    return np.asarray(unique[d2.min(axis=1) > _SAME])
