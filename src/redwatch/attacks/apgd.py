"""Auto-PGD (Croce & Hein, ICML 2020): PGD without a step-size to tune, white-box, batched.

Each sample starts at a random point of the eps-ball with step size 2·eps and moves with
momentum 0.75. At checkpoints w_j = ceil(p_j · steps) (p_0 = 0, p_1 = 0.22,
p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)) a sample halves its step and jumps back to
its best point so far when (a) fewer than ρ = 0.75 of its steps since the last checkpoint
raised the loss, or (b) neither its step size nor its best loss changed since then. The loss
is CE or DLR (redwatch.attacks.losses), untargeted or targeted, under L∞ or L2.

A sample leaves the batch at its first adversarial iterate; random restarts are spent only
on samples not fooled yet; a spent query budget stops the attack with what it found.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from redwatch.attacks.base import (
    AttackResult,
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
from redwatch.attacks.losses import check_loss
from redwatch.exceptions import ProbeError

ValueGradFn = Callable[
    [np.ndarray, np.ndarray, str, np.ndarray | None], tuple[np.ndarray, np.ndarray]
]
"""(x (n, d), y (n,), loss, y_target (n,) or None) -> (loss values (n,), gradients (n, d)).
Targeted losses are descended (see redwatch.attacks.losses); Target.loss_value_and_gradient
has this signature."""

MOMENTUM = 0.75
RHO = 0.75


def checkpoints(steps: int) -> list[int]:
    """Iterations w_j (1 ≤ w_j < steps) at which the step size may be halved."""
    p = [0.0, 0.22]
    while p[-1] < 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({w for pj in p[1:] if 0 < (w := math.ceil(round(pj * steps, 9))) < steps})


@dataclass
class _Setup:
    """Fixed parameters of one APGD run."""

    value_grad_fn: ValueGradFn
    predict_fn: PredictFn
    eps: float
    norm: str
    loss: str
    steps: int
    targeted: bool
    mask: np.ndarray
    clip: tuple[float, float]
    rng: np.random.Generator
    checks: list[int]


@dataclass
class _State:
    """Per-sample results, kept outside the loop so a budget stop loses nothing."""

    x: np.ndarray
    y: np.ndarray
    goal: np.ndarray  # labels the success test compares with: y, or y_target when targeted
    y_target: np.ndarray | None
    x_adv: np.ndarray
    success: np.ndarray
    queries: np.ndarray


@dataclass
class _Walk:
    """Per-sample iterate of one start; rows of every array follow `rows`."""

    rows: np.ndarray
    xa: np.ndarray  # current iterate
    x_prev: np.ndarray  # previous iterate (momentum)
    grad: np.ndarray  # gradient of the objective at xa
    eta: np.ndarray  # step size
    f_prev: np.ndarray  # objective at the previous iterate
    f_best: np.ndarray
    x_best: np.ndarray
    g_best: np.ndarray
    ups: np.ndarray  # steps since the last checkpoint that raised the objective
    f_best_check: np.ndarray  # f_best at the last checkpoint
    halved_check: np.ndarray  # whether the step was halved at the last checkpoint

    def keep(self, which: np.ndarray) -> None:
        """Drop the samples not in `which` (a boolean mask over the current rows)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name)[which])


def apgd(
    value_grad_fn: ValueGradFn,
    predict_fn: PredictFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float,
    norm: str = "inf",
    loss: str = "ce",
    steps: int = 100,
    restarts: int = 1,
    targeted: bool = False,
    y_target: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 512,
    rng: np.random.Generator | None = None,
) -> AttackResult:
    """Run APGD; y are the true labels, y_target the classes to reach when targeted.

    Queries count one row per loss-and-gradient and one per prediction, `steps` of each per
    start, so APGD and `pgd` with the same `steps` spend the same.
    """
    norm = check_norm(norm)
    loss = check_loss(loss)
    x, y, m = check_inputs(x, y, mask, clip)
    goal, yt = _goal(y, targeted, y_target)
    if eps < 0 or min(steps, restarts, batch_size) < 1:
        raise ProbeError("APGD needs eps >= 0 and steps, restarts, batch_size >= 1")
    setup = _Setup(
        value_grad_fn,
        predict_fn,
        float(eps),
        norm,
        loss,
        steps,
        targeted,
        m,
        clip,
        make_rng(rng),
        checkpoints(steps),
    )
    n = len(x)
    state = _State(x, y, goal, yt, x.copy(), np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64))
    stopped = batched_restarts(
        n, batch_size, restarts, state.success, lambda rows: _one_start(setup, state, rows)
    )
    return finish(x, state.x_adv, state.success, state.queries, norm, stopped)


def _goal(
    y: np.ndarray, targeted: bool, y_target: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels for the success test and the validated targets (None when untargeted)."""
    if not targeted:
        if y_target is not None:
            raise ProbeError("y_target was given but targeted is False")
        return y, None
    if y_target is None:
        raise ProbeError("a targeted APGD needs y_target, one class per sample")
    t = np.asarray(y_target).astype(np.int64).reshape(-1)
    if t.shape != y.shape:
        raise ProbeError(f"{len(t)} targets for {len(y)} samples")
    if np.any(t == y):
        raise ProbeError("y_target must differ from the true label of every sample")
    return t, t


def _objective(setup: _Setup, state: _State, walk: _Walk) -> tuple[np.ndarray, np.ndarray]:
    """Objective the attack ascends (the loss, negated when targeted) and its gradient."""
    rows = walk.rows
    yt = None if state.y_target is None else state.y_target[rows]
    values, grads = setup.value_grad_fn(walk.xa, state.y[rows], setup.loss, yt)
    state.queries[rows] += 1
    sign = -1.0 if setup.targeted else 1.0
    return sign * np.asarray(values, np.float64), sign * np.asarray(grads, np.float64)


def _start(setup: _Setup, state: _State, rows: np.ndarray) -> _Walk:
    """Random start in the ball, its objective and gradient."""
    x0 = state.x[rows]
    noise = random_in_ball(x0.shape, setup.eps, setup.norm, setup.mask, setup.rng)
    xa = project(x0 + noise, x0, setup.eps, setup.norm, setup.mask, setup.clip)
    n = len(rows)
    walk = _Walk(
        rows,
        xa,
        xa.copy(),
        np.zeros_like(xa),
        np.full(n, 2.0 * setup.eps),
        np.zeros(n),
        np.zeros(n),
        xa.copy(),
        np.zeros_like(xa),
        np.zeros(n, dtype=np.int64),
        np.zeros(n),
        np.zeros(n, dtype=bool),
    )
    f, walk.grad = _objective(setup, state, walk)
    walk.f_prev, walk.f_best, walk.f_best_check = f, f.copy(), f.copy()
    walk.g_best = walk.grad.copy()
    return walk


def _one_start(setup: _Setup, state: _State, rows: np.ndarray) -> None:
    """One random start followed by `steps` APGD iterations for the given sample rows."""
    walk = _start(setup, state, rows)
    last_check = 0
    for k in range(1, setup.steps + 1):
        _step(setup, state, walk, alpha=1.0 if k == 1 else MOMENTUM)
        pred = np.asarray(setup.predict_fn(walk.xa)).reshape(-1)
        state.queries[walk.rows] += 1
        hit = is_adversarial(pred, state.goal[walk.rows], setup.targeted)
        state.x_adv[walk.rows[hit]] = walk.xa[hit]
        state.success[walk.rows[hit]] = True
        walk.keep(~hit)
        if len(walk.rows) == 0 or k == setup.steps:
            return
        f, walk.grad = _objective(setup, state, walk)
        _track(walk, f)
        if k in setup.checks:
            _checkpoint(walk, k - last_check)
            last_check = k


def _step(setup: _Setup, state: _State, walk: _Walk, alpha: float) -> None:
    """z = P(x + η·dir(∇)); x_new = P(x + α(z - x) + (1 - α)(x - x_prev))."""
    x0 = state.x[walk.rows]
    z = project(
        walk.xa + walk.eta[:, None] * _direction(walk.grad, setup),
        x0,
        setup.eps,
        setup.norm,
        setup.mask,
        setup.clip,
    )
    moved = walk.xa + alpha * (z - walk.xa) + (1.0 - alpha) * (walk.xa - walk.x_prev)
    walk.x_prev = walk.xa
    walk.xa = project(moved, x0, setup.eps, setup.norm, setup.mask, setup.clip)


def _track(walk: _Walk, f: np.ndarray) -> None:
    """Count rising steps and remember the best point and its gradient."""
    walk.ups += f > walk.f_prev
    walk.f_prev = f
    better = f > walk.f_best
    walk.f_best = np.where(better, f, walk.f_best)
    walk.x_best[better] = walk.xa[better]
    walk.g_best[better] = walk.grad[better]


def _checkpoint(walk: _Walk, span: int) -> None:
    """Halve the step, and restart from the best point, where progress has stalled."""
    oscillating = walk.ups < RHO * span
    stuck = ~walk.halved_check & (walk.f_best <= walk.f_best_check)
    halve = oscillating | stuck
    walk.eta = np.where(halve, walk.eta / 2.0, walk.eta)
    walk.xa[halve] = walk.x_best[halve]
    walk.x_prev[halve] = walk.x_best[halve]
    walk.grad[halve] = walk.g_best[halve]
    walk.f_prev = np.where(halve, walk.f_best, walk.f_prev)
    walk.ups[:] = 0
    walk.f_best_check = walk.f_best.copy()
    walk.halved_check = halve


def _direction(grad: np.ndarray, setup: _Setup) -> np.ndarray:
    """Ascent direction of the objective: sign for L∞, unit L2 vector for L2."""
    g = grad * setup.mask
    if setup.norm == "inf":
        return np.sign(g)
    return np.asarray(g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12))
