"""Random-noise perturbations at a given eps, the baseline a noise-robustness probe compares
adversarial attacks against: if random noise already flips labels, the model is fragile."""

from __future__ import annotations

import numpy as np

from redwatch.attacks.base import check_inputs, check_norm, make_rng
from redwatch.exceptions import ProbeError


def random_noise(
    x: np.ndarray,
    eps: float,
    *,
    norm: str = "inf",
    mask: np.ndarray | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Perturb each row with noise of size eps, only on mask features, clipped to the box.

    L∞: independent uniform noise in [-eps, eps] per feature. L2: a Gaussian direction scaled
    to L2 norm exactly eps (before clipping), so every row is tested at the full budget.
    """
    norm = check_norm(norm)
    x, _, m = check_inputs(x, np.zeros(len(np.atleast_2d(x)), dtype=np.int64), mask, clip)
    if eps < 0:
        raise ProbeError(f"noise eps must be >= 0, got {eps}")
    gen = make_rng(rng)
    k = int(m.sum())
    delta = np.zeros_like(x)
    if k == 0 or eps == 0:
        return x.copy()
    if norm == "inf":
        delta[:, m] = gen.uniform(-eps, eps, size=(len(x), k))
    else:
        g = gen.standard_normal((len(x), k))
        delta[:, m] = eps * g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    return np.asarray(np.clip(x + delta, clip[0], clip[1]))
