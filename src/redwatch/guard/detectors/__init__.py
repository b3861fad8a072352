"""Input detectors for the `detect` guard stage: each fits on clean reference rows and scores
rows (higher = more suspicious); calibration.py sets thresholds with a known false-positive
rate. DETECTORS maps the policy's method names to the classes."""

from __future__ import annotations

from redwatch.guard.detectors.base import Detector, DetectorParams, DetectorSetup
from redwatch.guard.detectors.calibration import (
    CalibratedDetector,
    calibrate,
    conformal_threshold,
    split_reference,
)
from redwatch.guard.detectors.iforest import IsolationForestDetector
from redwatch.guard.detectors.instability import InstabilityDetector
from redwatch.guard.detectors.mahalanobis import MahalanobisDetector
from redwatch.guard.detectors.squeeze import SqueezeDetector
from redwatch.guard.detectors.strip import StripDetector

DETECTORS: dict[str, type[Detector]] = {
    cls.method: cls
    for cls in (
        MahalanobisDetector,
        IsolationForestDetector,
        SqueezeDetector,
        InstabilityDetector,
        StripDetector,
    )
}

__all__ = [
    "DETECTORS",
    "CalibratedDetector",
    "Detector",
    "DetectorParams",
    "DetectorSetup",
    "InstabilityDetector",
    "IsolationForestDetector",
    "MahalanobisDetector",
    "SqueezeDetector",
    "StripDetector",
    "calibrate",
    "conformal_threshold",
    "split_reference",
]
