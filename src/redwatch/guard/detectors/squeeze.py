"""squeeze: feature squeezing (Xu, Evans and Qi, NDSS 2018). The model's probabilities on a
row and on squeezed copies of it (bit-depth reduction; for images also a 2x2 median filter)
should agree for natural inputs; adversarial perturbations are fine-grained and often erased
by squeezing, so the prediction jumps. The score is the largest L1 distance between the
probabilities on the row and on any squeezed copy.

It catches small-norm evasion that sits close to the decision boundary (PGD, boundary
attacks); it misses perturbations too large for the squeezers to undo and attacks adapted
to the squeezers. Cost per row: one model call for the row plus one per squeezer (batched).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from redwatch.guard.detectors.base import Detector, DetectorParams, feature_box, l1_distance


class SqueezeParams(DetectorParams):
    """Bit depth of the reduction (over the spec's range) and whether to median-filter
    images (ignored for tabular inputs)."""

    bits: int = Field(default=5, ge=1, le=16)
    median: bool = True


class SqueezeDetector(Detector):
    """Max L1 disagreement between the model on x and on its squeezed versions."""

    method: ClassVar[str] = "squeeze"
    description: ClassVar[str] = "Feature squeezing: prediction change under bit-depth/median"
    params_model: ClassVar[type[DetectorParams]] = SqueezeParams
    needs_model: ClassVar[bool] = True
    params: SqueezeParams

    def fit(self, rows: np.ndarray) -> None:
        """Fix the range the bit-depth reduction quantises over."""
        self.lower_, self.scale_ = feature_box(self.setup, rows)

    def score(self, rows: np.ndarray) -> np.ndarray:
        """(n,) max over squeezers of the L1 distance between probability vectors."""
        squeezed = self.squeezed(rows)
        n = len(rows)
        proba = self.model_proba(np.concatenate([rows, *squeezed]))
        base = proba[:n]
        dists = [l1_distance(base, proba[(i + 1) * n : (i + 2) * n]) for i in range(len(squeezed))]
        return np.asarray(np.max(dists, axis=0))

    def squeezed(self, rows: np.ndarray) -> list[np.ndarray]:
        """The squeezed copies of `rows`: bit depth, then the median filter for images."""
        out = [self.reduce_bits(rows)]
        spec = self.setup.spec
        if self.params.median and spec is not None and spec.image_shape is not None:
            out.append(median_2x2(rows, spec.image_shape))
        return out

    def reduce_bits(self, rows: np.ndarray) -> np.ndarray:
        """Each feature quantised to 2**bits levels of its range."""
        levels = 2**self.params.bits - 1
        unit = np.clip((rows - self.lower_) / self.scale_, 0.0, 1.0)
        return np.asarray(self.lower_ + np.round(unit * levels) / levels * self.scale_)


def median_2x2(rows: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """2x2 median filter over the last two axes of each image (rows are flattened
    channel-first images; edges reflect), as Xu et al. smooth MNIST."""
    from scipy import ndimage

    images = rows.reshape(len(rows), *image_shape)
    size = (1,) * (images.ndim - 2) + (2, 2)
    return np.asarray(ndimage.median_filter(images, size=size, mode="reflect")).reshape(
        len(rows), -1
    )
