"""Shared pieces of every attack: the result record, norms, projection onto the feasible set
(eps-ball ∩ box ∩ mask), the margin loss and input checks.

Attacks work in a normalized box: rows of `x` are flattened inputs in `clip` (default [0, 1]);
`mask` marks the features the attacker may change. Norms are measured in that space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from redwatch.exceptions import ProbeError, QueryBudgetExceeded

NORMS = ("inf", "2")

PredictFn = Callable[[np.ndarray], np.ndarray]
"""x (n, d) -> class indices (n,)."""
ProbaFn = Callable[[np.ndarray], np.ndarray]
"""x (n, d) -> class probabilities (n, K)."""
GradFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(x (n, d), y (n,)) -> gradient of the cross-entropy loss w.r.t. x, (n, d)."""


@dataclass
class AttackResult:
    """What an attack found, one row per input sample."""

    x_adv: np.ndarray  # (n, d) best adversarial, or the original row where none was found
    success: np.ndarray  # (n,) bool: misclassified (untargeted) / hit the target (targeted)
    queries: np.ndarray  # (n,) int: model rows spent on that sample
    norms: np.ndarray  # (n,) float: ||x_adv - x|| in the attack norm (0 where no success)
    stopped: str | None = None  # "budget" when QueryBudgetExceeded cut the attack short

    @property
    def success_rate(self) -> float:
        """Fraction of samples for which an adversarial example was found."""
        return float(np.mean(self.success)) if len(self.success) else 0.0


def check_norm(norm: str, allowed: tuple[str, ...] = NORMS) -> str:
    """Normalize a norm name ("inf", "2"; also accepts "linf", "l2", np.inf, 2)."""
    key = str(norm).lower().lstrip("l")
    if key in ("inf", "infinity"):
        key = "inf"
    if key not in allowed:
        raise ProbeError(f"unsupported norm {norm!r}; choose one of {', '.join(allowed)}")
    return key


def check_inputs(
    x: np.ndarray, y: np.ndarray, mask: np.ndarray | None, clip: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate shapes and return (x float64 (n, d), y int64 (n,), mask bool (d,))."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ProbeError(f"attack inputs must be 2-D (samples x features), got shape {x.shape}")
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if len(y) != len(x):
        raise ProbeError(f"{len(y)} labels for {len(x)} samples")
    lo, hi = clip
    if not lo < hi:
        raise ProbeError(f"clip range must satisfy low < high, got {clip}")
    if np.any(x < lo - 1e-9) or np.any(x > hi + 1e-9):
        raise ProbeError(f"attack inputs must lie in the clip box {clip}; scale them first")
    m = np.ones(x.shape[1], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != (x.shape[1],):
        raise ProbeError(f"mask has shape {m.shape}, expected ({x.shape[1]},)")
    return np.clip(x, lo, hi), y, m


def lp_norm(delta: np.ndarray, norm: str) -> np.ndarray:
    """Row-wise L∞ or L2 norm of a (n, d) array."""
    if delta.shape[1] == 0:
        return np.zeros(len(delta))
    if norm == "inf":
        return np.asarray(np.abs(delta).max(axis=1), dtype=np.float64)
    return np.asarray(np.linalg.norm(delta, axis=1), dtype=np.float64)


def project(
    x_adv: np.ndarray,
    x: np.ndarray,
    eps: float,
    norm: str,
    mask: np.ndarray,
    clip: tuple[float, float],
) -> np.ndarray:
    """Project x_adv onto {x + δ : ||δ|| ≤ eps, δ = 0 off the mask} ∩ box.

    Clipping to the box after the ball projection keeps the point inside the ball, because
    x is in the box and clipping only moves coordinates toward it.
    """
    delta = (x_adv - x) * mask
    if norm == "inf":
        delta = np.clip(delta, -eps, eps)
    else:
        n = np.linalg.norm(delta, axis=1, keepdims=True)
        delta = delta * np.minimum(1.0, eps / np.maximum(n, 1e-12))
    return np.asarray(np.clip(x + delta, clip[0], clip[1]))


def random_in_ball(
    shape: tuple[int, int], eps: float, norm: str, mask: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Perturbations drawn uniformly from the eps-ball restricted to the mask's coordinates."""
    n = shape[0]
    k = int(mask.sum())
    out = np.zeros(shape)
    if k == 0 or eps <= 0:
        return out
    if norm == "inf":
        out[:, mask] = rng.uniform(-eps, eps, size=(n, k))
        return out
    direction = rng.standard_normal((n, k))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    radius = eps * rng.uniform(0.0, 1.0, size=(n, 1)) ** (1.0 / k)
    out[:, mask] = direction * radius
    return out


def random_start(
    x: np.ndarray,
    trial: int,
    mask: np.ndarray,
    clip: tuple[float, float],
    gen: np.random.Generator,
) -> np.ndarray:
    """Candidate starting points for decision-based attacks: uniform noise on the mutable
    features on even trials, random box corners on odd ones. Corners reach far in every
    direction and find adversarial regions that uniform noise misses when few features may
    change."""
    cand = x.copy()
    shape = (len(x), int(mask.sum()))
    lo, hi = clip
    if trial % 2 == 0:
        cand[:, mask] = gen.uniform(lo, hi, size=shape)
    else:
        cand[:, mask] = np.where(gen.random(shape) < 0.5, lo, hi)
    return cand


def is_adversarial(pred: np.ndarray, y: np.ndarray, targeted: bool) -> np.ndarray:
    """Success criterion: the label changed (untargeted) or equals the target (targeted)."""
    return np.asarray(pred == y) if targeted else np.asarray(pred != y)


def margin_loss(proba: np.ndarray, y: np.ndarray, targeted: bool) -> np.ndarray:
    """Log-probability margin; the attack succeeds when it drops below zero.

    Untargeted: log p_y - max_{j≠y} log p_j. Targeted (y = target): max_{j≠y} log p_j - log p_y.
    """
    logp = np.log(np.clip(proba, 1e-30, None))
    rows = np.arange(len(y))
    own = logp[rows, y]
    other = logp.copy()
    other[rows, y] = -np.inf
    best_other = other.max(axis=1)
    return np.asarray(best_other - own if targeted else own - best_other, dtype=np.float64)


def batched_restarts(
    n: int,
    batch_size: int,
    restarts: int,
    success: np.ndarray,
    one_start: Callable[[np.ndarray], None],
) -> str | None:
    """Call one_start(rows) on batches of rows, restarting only rows not fooled yet (it sets
    `success` in place). Returns "budget" when QueryBudgetExceeded ended the run: what was
    found before stays in the caller's state."""
    try:
        for start in range(0, n, batch_size):
            batch = np.arange(start, min(n, start + batch_size))
            for _ in range(restarts):
                todo = batch[~success[batch]]
                if len(todo) == 0:
                    break
                one_start(todo)
    except QueryBudgetExceeded:
        return "budget"
    return None


def make_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """The caller's generator, or a fixed-seed one so that results are reproducible."""
    return rng if rng is not None else np.random.default_rng(0)


def finish(
    x: np.ndarray,
    x_adv: np.ndarray,
    success: np.ndarray,
    queries: np.ndarray,
    norm: str,
    stopped: str | None,
) -> AttackResult:
    """Build the result: original rows where no success, norms 0 there."""
    x_out = np.where(success[:, None], x_adv, x)
    norms = np.where(success, lp_norm(x_out - x, norm), 0.0)
    return AttackResult(
        x_adv=x_out,
        success=success.astype(bool),
        queries=queries.astype(np.int64),
        norms=norms,
        stopped=stopped,
    )
