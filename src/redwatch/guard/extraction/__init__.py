"""Model-extraction detection for the guard's `extraction` stage: PRADA's distance test per
client (prada.py), the pool of young clients across API keys (pooled.py), the
out-of-reference rate test (reference.py), bounded histories (history.py) and the monitor
that runs them over answered queries (monitor.py)."""

from __future__ import annotations

from redwatch.guard.extraction.monitor import ExtractionMonitor, Flag, MonitorSettings
from redwatch.guard.extraction.prada import Calibration, calibrate_threshold, normality
from redwatch.guard.extraction.reference import ReferenceTest, fit_reference

__all__ = [
    "Calibration",
    "ExtractionMonitor",
    "Flag",
    "MonitorSettings",
    "ReferenceTest",
    "calibrate_threshold",
    "fit_reference",
    "normality",
]
