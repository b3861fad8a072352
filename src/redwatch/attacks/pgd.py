"""Projected gradient descent (Madry et al., 2018), white-box, batched.

Random start in the eps-ball, signed-gradient steps (L∞) or normalized-gradient steps (L2)
on the cross-entropy loss, projection back onto ball ∩ box ∩ mask after every step. A sample
leaves the batch at its first successful iterate (smallest effort, fewest queries); random
restarts are spent only on samples that are not fooled yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redwatch.attacks.base import (
    AttackResult,
    GradFn,
    PredictFn,
    batched_restarts,
    check_inputs,
    check_norm,
    finish,
    is_adversarial,
    make_rng,
    project,
    random_in_ball,
)
from redwatch.exceptions import ProbeError


@dataclass
class _Setup:
    """Fixed parameters of one PGD run."""

    grad_fn: GradFn
    predict_fn: PredictFn
    eps: float
    norm: str
    step: float
    steps: int
    check_every: int
    targeted: bool
    mask: np.ndarray
    clip: tuple[float, float]
    rng: np.random.Generator


@dataclass
class _State:
    """Per-sample progress, kept outside the loop so a budget stop loses nothing."""

    x: np.ndarray
    y: np.ndarray
    x_adv: np.ndarray
    success: np.ndarray
    queries: np.ndarray


def pgd(
    grad_fn: GradFn,
    predict_fn: PredictFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float,
    norm: str = "inf",
    step_size: float | None = None,
    steps: int = 40,
    restarts: int = 1,
    targeted: bool = False,
    mask: np.ndarray | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 512,
    rng: np.random.Generator | None = None,
    check_every: int = 1,
) -> AttackResult:
    """Run PGD; y are true labels (untargeted) or target classes (targeted, loss descended).

    Queries count one row per gradient and one per prediction. The default step size is
    2.5·eps/steps, which lets a step sequence cross the whole ball. `check_every` > 1 asks
    for labels only every that many steps (and after the last): cheaper when a prediction
    costs nearly as much as a gradient, at the price of stopping a little later.
    """
    norm = check_norm(norm)
    x, y, m = check_inputs(x, y, mask, clip)
    if eps < 0 or min(steps, restarts, batch_size, check_every) < 1:
        raise ProbeError("PGD needs eps >= 0 and steps, restarts, batch_size, check_every >= 1")
    step = 2.5 * eps / steps if step_size is None else float(step_size)
    setup = _Setup(
        grad_fn, predict_fn, eps, norm, step, steps, check_every, targeted, m, clip, make_rng(rng)
    )
    n = len(x)
    state = _State(x, y, x.copy(), np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64))
    stopped = batched_restarts(
        n, batch_size, restarts, state.success, lambda rows: _one_start(setup, state, rows)
    )
    return finish(x, state.x_adv, state.success, state.queries, norm, stopped)


def _one_start(setup: _Setup, state: _State, rows: np.ndarray) -> None:
    """One random start followed by `steps` projected steps for the given sample rows."""
    x0 = state.x[rows]
    noise = random_in_ball(x0.shape, setup.eps, setup.norm, setup.mask, setup.rng)
    xa = project(x0 + noise, x0, setup.eps, setup.norm, setup.mask, setup.clip)
    for k in range(1, setup.steps + 1):
        grad = np.asarray(setup.grad_fn(xa, state.y[rows]), dtype=np.float64)
        state.queries[rows] += 1
        xa = project(
            xa + setup.step * _direction(grad, setup),
            state.x[rows],
            setup.eps,
            setup.norm,
            setup.mask,
            setup.clip,
        )
        if k % setup.check_every and k < setup.steps:
            continue
        pred = np.asarray(setup.predict_fn(xa)).reshape(-1)
        state.queries[rows] += 1
        hit = is_adversarial(pred, state.y[rows], setup.targeted)
        state.x_adv[rows[hit]] = xa[hit]
        state.success[rows[hit]] = True
        rows, xa = rows[~hit], xa[~hit]
        if len(rows) == 0:
            return


def _direction(grad: np.ndarray, setup: _Setup) -> np.ndarray:
    """Ascent direction (descent when targeted): sign for L∞, unit L2 vector for L2."""
    g = grad * setup.mask
    if setup.norm == "inf":
        d = np.sign(g)
    else:
        d = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    return np.asarray(-d if setup.targeted else d)
