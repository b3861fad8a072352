"""Model inversion: class-representative reconstruction (Fredrikson et al. 2015). From a
neutral start (the bottom of the pixel range, as in the paper, plus seeded noise), gradient
descent on the class's cross-entropy plus a total-variation penalty (smooth,
natural-looking images) inside the pixel range, several seeded restarts; then how
recognisable each reconstruction is: its correlation with every class's mean
image of real data (is its own class the closest?).

Pure algorithms on arrays in the unit box [0, 1]; the probe supplies the gradients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from redwatch.exceptions import ProbeError

# (unit-box images (n, d), class indices (n,)) -> (loss per row (n,), gradient (n, d))
LossGrad = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
StopFn = Callable[[], bool]


@dataclass(frozen=True)
class InversionSettings:
    """Optimiser settings: steps and restarts per class, Adam step size, total-variation
    weight, the unit-box level of the start and the spread of its seeded noise."""

    steps: int = 150
    restarts: int = 3
    step_size: float = 0.05
    tv_weight: float = 0.5
    start: float = 0.0
    noise: float = 0.1

    def check(self) -> InversionSettings:
        """ProbeError on a setting that cannot work; self otherwise."""
        if self.steps < 1 or self.restarts < 1:
            raise ProbeError(f"steps and restarts must be positive ({self.steps}, {self.restarts})")
        if self.step_size <= 0 or self.tv_weight < 0 or self.noise < 0:
            raise ProbeError("step_size must be positive, tv_weight and noise not negative")
        if not 0.0 <= self.start <= 1.0:
            raise ProbeError(f"start must lie in [0, 1] (the pixel range), got {self.start}")
        return self


@dataclass(frozen=True)
class Inversion:
    """The best restart per class: images (classes, d) in [0, 1], their final objective,
    and how many optimisation steps ran (fewer than asked when time ran out)."""

    classes: np.ndarray
    images: np.ndarray
    objective: np.ndarray
    steps_run: int


def tv_penalty(u: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared difference between neighbouring pixels per image, and its gradient.
    `shape` is (C, H, W) or (H, W) of one flattened row."""
    img = u.reshape((len(u), -1, *shape[-2:]))
    dh = np.diff(img, axis=2)
    dw = np.diff(img, axis=3)
    scale = float(img[0].size)
    value = (np.sum(dh**2, axis=(1, 2, 3)) + np.sum(dw**2, axis=(1, 2, 3))) / scale
    grad = np.zeros_like(img)
    grad[:, :, 1:, :] += 2 * dh
    grad[:, :, :-1, :] -= 2 * dh
    grad[:, :, :, 1:] += 2 * dw
    grad[:, :, :, :-1] -= 2 * dw
    return value, grad.reshape(len(u), -1) / scale


def invert(
    loss_grad: LossGrad,
    classes: np.ndarray,
    shape: tuple[int, ...],
    settings: InversionSettings,
    rng: np.random.Generator,
    stop: StopFn | None = None,
) -> Inversion:
    """Reconstruct one image per class: every class x restart is one row of a batch run
    with Adam, projected onto [0, 1] after each step; the restart with the lowest objective
    (cross-entropy + tv_weight x TV) wins. Costs steps x classes x restarts gradient rows."""
    s = settings.check()
    d = int(np.prod(shape))
    labels = np.repeat(np.asarray(classes, dtype=np.int64), s.restarts)
    u = np.clip(s.start + s.noise * rng.standard_normal((len(labels), d)), 0.0, 1.0)
    m, v = np.zeros_like(u), np.zeros_like(u)
    objective = np.full(len(labels), np.inf)
    steps_run = 0
    for t in range(1, s.steps + 1):
        if stop is not None and t > 1 and stop():
            break
        loss, grad = loss_grad(u, labels)
        tv, tv_grad = tv_penalty(u, shape)
        objective = loss + s.tv_weight * tv
        g = grad + s.tv_weight * tv_grad
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        step = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        u = np.clip(u - s.step_size * step, 0.0, 1.0)
        steps_run = t
    best = _best_restarts(objective, len(classes), s.restarts)
    return Inversion(np.asarray(classes), u[best], objective[best], steps_run)


def _best_restarts(objective: np.ndarray, n_classes: int, restarts: int) -> np.ndarray:
    """Row index of the lowest-objective restart of each class."""
    per_class = objective.reshape(n_classes, restarts)
    return np.asarray(np.arange(n_classes) * restarts + per_class.argmin(axis=1), np.int64)


def class_means(u: np.ndarray, y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Mean real image (unit box) of each class; ProbeError when a class has no image."""
    means = []
    for c in classes:
        rows = u[y == c]
        if len(rows) == 0:
            raise ProbeError(f"no image of class {int(c)} among the campaign rows")
        means.append(rows.mean(axis=0))
    return np.vstack(means)


def correlations(images: np.ndarray, means: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Pearson correlation (images x classes) of each reconstruction with each class mean,
    both taken relative to `centre` (the mean of all real images): what is distinctive
    about a class, not the shared background."""
    a = _standardise(images - centre)
    b = _standardise(means - centre)
    return np.asarray(a @ b.T / a.shape[1], dtype=np.float64)


def _standardise(rows: np.ndarray) -> np.ndarray:
    """Each row to zero mean and unit standard deviation (constant rows stay zero)."""
    centred = rows - rows.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, keepdims=True)
    return np.asarray(np.where(sd > 0, centred / np.where(sd > 0, sd, 1.0), 0.0))


def own_rank(corr: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Rank (1 = most similar) of each reconstruction's own class mean among all class
    means; `own[i]` is the column of row i's class."""
    mine = corr[np.arange(len(corr)), own]
    return np.asarray(1 + np.sum(corr > mine[:, None], axis=1), dtype=np.int64)
