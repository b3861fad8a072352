"""Split-conformal calibration: a threshold on a detector's score with a known false-positive
rate on clean data.

The reference rows are shuffled (seeded) and split in two: the detector is fitted on one
part and scored on the other, held-out part (the calibration scores). For a target rate
alpha, the threshold is the ceil((n+1)(1-alpha))-th smallest of the n calibration scores and
a row is flagged when its score is strictly above it. If clean rows are exchangeable with
the calibration rows, P(flag) <= alpha (Vovk et al. 2005; Angelopoulos and Bates 2021), and
without ties it is at least alpha - 1/(n+1).

A threshold taken on the fitting rows themselves would be biased low: the detector has seen
those rows (the covariance was estimated from them, the isolation trees were grown on them),
so their scores are smaller than a new clean row's, and the real false-positive rate would
come out above the target. With m detectors each gets alpha/m (Bonferroni), so the chance
that any of them flags a clean row stays at most alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from redwatch.exceptions import DataError, UsageError
from redwatch.guard.detectors.base import Detector

_SLACK = 1e-9  # absorbs float error in (n+1)(1-alpha) before the ceiling


def min_calibration_rows(alpha: float) -> int:
    """Fewest calibration scores for which a finite conformal threshold exists at `alpha`."""
    return max(1, math.ceil(1.0 / alpha - 1.0 - _SLACK))


def conformal_threshold(scores: np.ndarray, alpha: float) -> float:
    """The ceil((n+1)(1-alpha))-th smallest score; UsageError when there are too few."""
    values = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))
    n = len(values)
    k = math.ceil((n + 1) * (1.0 - alpha) - _SLACK)
    if k > n:
        raise UsageError(
            f"a false-positive rate of {alpha:g} per detector needs at least "
            f"{min_calibration_rows(alpha)} calibration rows, the reference gives {n}; "
            "raise fpr or give more reference rows"
        )
    return float(values[max(k, 1) - 1])


def split_reference(rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, calibration rows): a seeded shuffle cut in half (calibration gets the odd
    row), so that calibration scores come from rows the detector never saw."""
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = len(rows) // 2
    return rows[order[:cut]], rows[order[cut:]]


def subsample(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most `limit` rows, a seeded random subset when there are more (order kept)."""
    if len(rows) <= limit:
        return rows
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))
    return rows[keep]


@dataclass(frozen=True)
class CalibratedDetector:
    """A fitted detector, its false-positive budget `alpha`, the threshold that meets it and
    the sorted calibration scores (kept for p-values and other rates)."""

    detector: Detector
    alpha: float
    threshold: float
    calibration: np.ndarray

    @property
    def name(self) -> str:
        """The detector's method name, as events and reasons show it."""
        return self.detector.method

    def score(self, rows: np.ndarray) -> np.ndarray:
        """(n,) detector scores for `rows`."""
        return self.detector.score(rows)

    def flagged(self, scores: np.ndarray) -> np.ndarray:
        """(n,) bool: score strictly above the threshold."""
        return np.asarray(scores > self.threshold)

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """Conformal p-values (1 + #calibration scores >= s) / (n + 1): small = unusual."""
        n = len(self.calibration)
        above = n - np.searchsorted(self.calibration, scores, side="left")
        return np.asarray((1.0 + above) / (n + 1.0))

    def threshold_at(self, alpha: float) -> float:
        """The threshold this calibration gives at another rate (benchmarks, reports)."""
        return conformal_threshold(self.calibration, alpha)


def calibrate(
    detector: Detector, fit_rows: np.ndarray, cal_rows: np.ndarray, alpha: float
) -> CalibratedDetector:
    """Fit on `fit_rows`, score `cal_rows`, and set the conformal threshold at `alpha`."""
    detector.fit(fit_rows)
    scores = np.asarray(detector.score(cal_rows), dtype=np.float64)
    if scores.shape != (len(cal_rows),) or not np.isfinite(scores).all():
        raise DataError(
            f"detector {detector.method} gave non-finite or misshapen scores on the reference"
        )
    threshold = conformal_threshold(scores, alpha)
    return CalibratedDetector(detector, alpha, threshold, np.sort(scores))
