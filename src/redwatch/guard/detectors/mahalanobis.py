"""mahalanobis: squared Mahalanobis distance of a row from the clean reference's robust
centre and covariance. It catches rows far from the data (out-of-distribution, large or
spread-out perturbations); it misses small perturbations that stay inside the cloud.

Which covariance (`estimator: auto`): the Minimum Covariance Determinant (MinCovDet) when the
reference has many rows per feature (d <= 30 and n >= 10 d): it fits the densest half of the
rows, so outliers or poisoned rows in the reference cannot inflate the covariance and hide
anomalies. MCD needs n well above d and costs many O(n d^2) passes, and on images (d in the
hundreds, many pixels constant) the plain sample covariance is singular; there Ledoit-Wolf
shrinkage towards a scaled identity gives a well-conditioned estimate in closed form.
Features are centred on the median and scaled by their standard deviation first, so that
one large-unit feature does not dominate the shrinkage target.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field
from scipy import linalg

from redwatch.guard.detectors.base import Detector, DetectorParams

_RIDGE = 1e-6  # relative ridge on the covariance: directions the reference never varies in


class MahalanobisParams(DetectorParams):
    """Which covariance estimator (auto picks by size, see the module docstring)."""

    estimator: Literal["auto", "mcd", "ledoit_wolf"] = "auto"
    support_fraction: float | None = Field(default=None, gt=0.5, le=1.0)


class MahalanobisDetector(Detector):
    """Squared distance (x - mu)' P (x - mu) in standardised units."""

    method: ClassVar[str] = "mahalanobis"
    description: ClassVar[str] = "Robust Mahalanobis distance from the clean reference"
    params_model: ClassVar[type[DetectorParams]] = MahalanobisParams
    params: MahalanobisParams

    def fit(self, rows: np.ndarray) -> None:
        """Standardise, estimate the covariance, and keep centre and precision matrix."""
        self.center_ = np.median(rows, axis=0)
        spread = rows.std(axis=0)
        self.scale_ = np.where(spread > 1e-12, spread, 1.0)
        z = (rows - self.center_) / self.scale_
        self.estimator_ = self._choose(z.shape)
        location, covariance = self._estimate(z)
        d = covariance.shape[0]
        ridge = _RIDGE * max(float(np.trace(covariance)) / d, 1e-12)
        self.location_ = location
        self.precision_ = linalg.pinvh(covariance + ridge * np.eye(d))

    def score(self, rows: np.ndarray) -> np.ndarray:
        """(n,) squared Mahalanobis distances."""
        diff = (rows - self.center_) / self.scale_ - self.location_
        return np.asarray(np.einsum("ij,ij->i", diff @ self.precision_, diff))

    def _choose(self, shape: tuple[int, ...]) -> str:
        """The estimator `auto` stands for at this (n, d)."""
        if self.params.estimator != "auto":
            return self.params.estimator
        n, d = shape
        return "mcd" if d <= 30 and n >= 10 * d else "ledoit_wolf"

    def _estimate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(location, covariance) of standardised rows with the chosen estimator."""
        from sklearn.covariance import LedoitWolf, MinCovDet

        if self.estimator_ == "ledoit_wolf":
            lw = LedoitWolf(assume_centered=False).fit(z)
            return np.asarray(lw.location_), np.asarray(lw.covariance_)
        with warnings.catch_warnings():
            # MCD warns when its support is singular (a binary feature constant in the
            # densest half); the ridge in fit() handles exactly that case
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            mcd = MinCovDet(
                support_fraction=self.params.support_fraction, random_state=self.setup.seed
            ).fit(z)
        return np.asarray(mcd.location_), np.asarray(mcd.covariance_)
