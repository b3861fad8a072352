"""strip: STRIP (Gao et al., ACSAC 2019), a run-time check for backdoor (trojan) inputs on
image models. The input is blended with `samples` clean reference images; a clean input's
blends are predicted all over the place (high entropy), while an input carrying a trigger
keeps forcing the target class (low entropy). The score is minus the mean prediction
entropy over the blends, so higher = more suspicious.

It catches inputs whose prediction survives heavy blending (backdoor triggers, very strong
patches); it does not catch small-norm evasion, whose fragile perturbation is washed out by
the blend (such inputs tend to score lower than clean ones). Images only. Cost per row:
`samples` model rows (one batched call).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from redwatch.guard.detectors.base import Detector, DetectorParams

_TINY = 1e-12


class StripParams(DetectorParams):
    """Blends per row and the weight of the input in each blend."""

    samples: int = Field(default=16, ge=2, le=256)
    alpha: float = Field(default=0.5, gt=0.0, lt=1.0)


class StripDetector(Detector):
    """Minus the mean entropy of the model's predictions on blends with clean images."""

    method: ClassVar[str] = "strip"
    description: ClassVar[str] = "STRIP: low prediction entropy on blends with clean images"
    params_model: ClassVar[type[DetectorParams]] = StripParams
    needs_model: ClassVar[bool] = True
    images_only: ClassVar[bool] = True
    params: StripParams

    def fit(self, rows: np.ndarray) -> None:
        """Pick the clean images every input is blended with (seeded, fixed)."""
        gen = np.random.default_rng(self.setup.seed)
        take = gen.choice(
            len(rows), size=self.params.samples, replace=len(rows) < self.params.samples
        )
        self.pool_ = rows[take]

    def score(self, rows: np.ndarray) -> np.ndarray:
        """(n,) minus the mean entropy (nats) over the blends."""
        a = self.params.alpha
        n, s = len(rows), len(self.pool_)
        blends = (a * rows[None, :, :] + (1.0 - a) * self.pool_[:, None, :]).reshape(s * n, -1)
        proba = np.clip(self.model_proba(blends), _TINY, 1.0)
        entropy = -(proba * np.log(proba)).sum(axis=1).reshape(s, n)
        return np.asarray(-entropy.mean(axis=0))
