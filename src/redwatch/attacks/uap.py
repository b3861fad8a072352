"""Universal adversarial perturbation: one perturbation δ, ||δ|| ≤ ε, that fools as many
inputs as possible (Moosavi-Dezfooli et al., 2017), found by stochastic projected gradient
ascent on the mean loss over mini-batches (SGD-UAP, Shafahi et al., 2020).

The ascent direction is the mean cross-entropy gradient of the mini-batch (we tried
normalizing each sample's gradient first, as a stand-in for the clamped loss of Shafahi et
al.; on the demo CNN it fooled fewer held-out inputs). Steps are signed (L∞) or unit-norm (L2)
and shrink linearly over the epochs. The fooling rate is measured with labels only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from redwatch.attacks.base import GradFn, PredictFn, check_inputs, check_norm, make_rng
from redwatch.exceptions import ProbeError, QueryBudgetExceeded

StopFn = Callable[[], bool]


@dataclass
class UAPResult:
    """One universal perturbation and how it did on the rows it was trained on."""

    delta: np.ndarray  # (d,) the perturbation, inside the ε-ball and zero off the mask
    train_fooling_rate: float  # share of training rows fooled by x + δ (clipped to the box)
    queries: int  # model rows spent (gradients and predictions)
    epochs: int  # epochs completed
    stopped: str | None = None  # "budget" or "time" when cut short


def apply_delta(x: np.ndarray, delta: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    """x + δ for every row, clipped to the box."""
    return np.asarray(np.clip(x + delta[None, :], clip[0], clip[1]))


def fooling_rate(
    predict_fn: PredictFn,
    x: np.ndarray,
    y: np.ndarray,
    delta: np.ndarray,
    *,
    clip: tuple[float, float] = (0.0, 1.0),
    targeted: bool = False,
) -> float:
    """Share of rows that x + δ fools: label ≠ y (untargeted) or = y (targeted, y = target)."""
    if len(x) == 0:
        return 0.0
    pred = np.asarray(predict_fn(apply_delta(x, delta, clip))).reshape(-1)
    hit = pred == y if targeted else pred != y
    return float(np.mean(hit))


def random_sign_delta(
    d: int, eps: float, norm: str, mask: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """A random baseline of the same size: ±ε per feature (L∞) or a random direction of
    length ε (L2), zero off the mask."""
    norm = check_norm(norm)
    m = np.ones(d, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    delta = np.where(m, rng.choice([-1.0, 1.0], size=d), 0.0)
    if norm == "2":
        delta = np.where(m, rng.standard_normal(d), 0.0)
        delta *= eps / max(float(np.linalg.norm(delta)), 1e-12)
        return delta
    return delta * eps


def project_delta(delta: np.ndarray, eps: float, norm: str, mask: np.ndarray) -> np.ndarray:
    """Project δ onto {||δ|| ≤ ε, δ = 0 off the mask}."""
    delta = delta * mask
    if norm == "inf":
        return np.clip(delta, -eps, eps)
    n = float(np.linalg.norm(delta))
    return delta * min(1.0, eps / max(n, 1e-12))


def uap(
    grad_fn: GradFn,
    predict_fn: PredictFn,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    eps: float,
    norm: str = "inf",
    epochs: int = 10,
    batch_size: int = 16,
    step: float | None = None,
    targeted: bool = False,
    mask: np.ndarray | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    rng: np.random.Generator | None = None,
    stop: StopFn | None = None,
) -> UAPResult:
    """Train one δ on (x_train, y_train): true labels (untargeted) or the target class
    (targeted, loss descended). Pass rows the model classifies correctly; measure the
    universal claim on held-out rows with `fooling_rate`.

    The default step is ε/5 (L∞) or ε/2 (L2), decaying linearly to a tenth of that. Queries
    count one row per gradient and one per prediction of the final train fooling rate. A
    spent query budget or `stop()` returning True ends training with the δ reached so far.
    """
    norm = check_norm(norm)
    x, y, m = check_inputs(x_train, y_train, mask, clip)
    if eps <= 0 or min(epochs, batch_size) < 1 or len(x) == 0:
        raise ProbeError("UAP needs eps > 0, epochs and batch_size >= 1 and some training rows")
    base = (eps / 5.0 if norm == "inf" else eps / 2.0) if step is None else float(step)
    gen = make_rng(rng)
    delta = np.zeros(x.shape[1])
    queries, done, stopped = 0, 0, None
    try:
        for epoch in range(epochs):
            rate = base * (1.0 - 0.9 * epoch / max(epochs - 1, 1))
            order = gen.permutation(len(x))
            for start in range(0, len(x), batch_size):
                if stop is not None and stop():
                    raise _Stop
                rows = order[start : start + batch_size]
                delta = _step(grad_fn, x[rows], y[rows], delta, rate, eps, norm, m, clip, targeted)
                queries += len(rows)
            done += 1
    except QueryBudgetExceeded:
        stopped = "budget"
    except _Stop:
        stopped = "time"
    train_rate = 0.0
    if stopped is None:
        try:
            train_rate = fooling_rate(predict_fn, x, y, delta, clip=clip, targeted=targeted)
            queries += len(x)
        except QueryBudgetExceeded:
            stopped = "budget"
    return UAPResult(delta, train_rate, queries, done, stopped)


class _Stop(Exception):
    """Internal: the caller's stop() asked training to end."""


def _step(
    grad_fn: GradFn,
    x: np.ndarray,
    y: np.ndarray,
    delta: np.ndarray,
    rate: float,
    eps: float,
    norm: str,
    mask: np.ndarray,
    clip: tuple[float, float],
    targeted: bool,
) -> np.ndarray:
    """One projected ascent (descent when targeted) step on a mini-batch."""
    raw = x + delta[None, :]
    grad = np.asarray(grad_fn(np.clip(raw, clip[0], clip[1]), y), dtype=np.float64)
    ascent = -grad if targeted else grad
    # a pixel pinned at a bound only counts when the step would move it back inside
    grad = grad * (((raw > clip[0]) | (ascent > 0)) & ((raw < clip[1]) | (ascent < 0)))
    g = grad.mean(axis=0) * mask
    direction = np.sign(g) if norm == "inf" else g / max(float(np.linalg.norm(g)), 1e-12)
    if targeted:
        direction = -direction
    return project_delta(delta + rate * direction, eps, norm, mask)
