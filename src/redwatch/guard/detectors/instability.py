"""instability: how much the model's probabilities move under small Gaussian noise. Natural
inputs sit well inside a class region; adversarial examples found by minimal-perturbation
attacks sit just across a decision boundary, where a little noise flips or shakes the
prediction (the idea behind Hu et al. 2019 and randomized-smoothing style checks).

The score is the mean L1 distance between the probabilities at x and at x + noise over
`samples` draws, with noise sigma x (each feature's range). The noise draws are fixed when
the detector is fitted (seeded), so the same input always gets the same score, whatever the
batch it arrives in. It catches boundary-hugging examples (HopSkipJump, small-eps PGD); it
misses high-confidence adversarial examples pushed deep into the wrong class. Cost per row:
1 + `samples` model rows (one batched call).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from redwatch.guard.detectors.base import Detector, DetectorParams, feature_box, l1_distance


class InstabilityParams(DetectorParams):
    """Noise draws per row and their standard deviation as a fraction of each range."""

    samples: int = Field(default=8, ge=1, le=256)
    sigma: float = Field(default=0.05, gt=0.0, le=1.0)


class InstabilityDetector(Detector):
    """Mean L1 change of the probabilities under fixed Gaussian noise draws."""

    method: ClassVar[str] = "instability"
    description: ClassVar[str] = "Prediction instability under small Gaussian noise"
    params_model: ClassVar[type[DetectorParams]] = InstabilityParams
    needs_model: ClassVar[bool] = True
    params: InstabilityParams

    def fit(self, rows: np.ndarray) -> None:
        """Draw the noise once: (samples, d) offsets in feature units."""
        lower, scale = feature_box(self.setup, rows)
        gen = np.random.default_rng(self.setup.seed)
        draws = gen.standard_normal((self.params.samples, rows.shape[1]))
        self.noise_ = draws * self.params.sigma * scale
        self.bounds_ = (lower, lower + scale) if self.setup.spec is not None else None

    def score(self, rows: np.ndarray) -> np.ndarray:
        """(n,) mean L1 distance between p(x) and p(x + noise_j) over the draws."""
        n, s = len(rows), len(self.noise_)
        noisy = (rows[None, :, :] + self.noise_[:, None, :]).reshape(s * n, -1)
        if self.bounds_ is not None:
            noisy = np.clip(noisy, *self.bounds_)
        proba = self.model_proba(np.concatenate([rows, noisy]))
        base = proba[:n]
        moved = proba[n:].reshape(s, n, -1)
        return np.asarray(np.mean([l1_distance(base, moved[j]) for j in range(s)], axis=0))
