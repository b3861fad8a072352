"""Out-of-distribution rows: an isolation forest on robustly scaled features, with the
threshold set at a stated false-positive rate on the data itself and never below a
far-out fence, so that data without outliers gets no flags."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from redwatch.data.flags import DetectorReport, RowFlag

DEFAULT_FPR = 0.01
FENCE = 3.0


def robust_scale(x: np.ndarray) -> np.ndarray:
    """Centre on the median and divide by the interquartile range (1 where it is 0)."""
    q1, median, q3 = np.percentile(x, [25, 50, 75], axis=0)
    spread = q3 - q1
    spread[spread == 0] = 1.0
    return np.asarray((x - median) / spread)


def anomaly_scores(x: np.ndarray, seed: int) -> np.ndarray:
    """Isolation-forest anomaly score per row: higher = easier to isolate = stranger."""
    forest = IsolationForest(n_estimators=200, random_state=seed)
    forest.fit(robust_scale(x))
    return -np.asarray(forest.score_samples(robust_scale(x)), dtype=float)


def detect_ood(x: np.ndarray, *, fpr: float = DEFAULT_FPR, seed: int = 0) -> DetectorReport:
    """Flag rows above both the (1 - fpr) quantile of the scores and the far-out fence
    Q3 + 3 IQR; the flag's score is in (0.5, 1] and grows with the distance past it."""
    scores = anomaly_scores(x, seed)
    q1, q3 = np.percentile(scores, [25, 75])
    fence = float(q3 + FENCE * (q3 - q1))
    threshold = max(float(np.quantile(scores, 1.0 - fpr)), fence)
    spread = max(float(scores.max() - threshold), 1e-12)
    rows = np.flatnonzero(scores > threshold)
    flags = tuple(
        RowFlag(
            int(r),
            0.5 + 0.5 * float(scores[r] - threshold) / spread,
            (f"out_of_distribution: anomaly score {scores[r]:.3f} > {threshold:.3f}",),
        )
        for r in rows
    )
    metrics: dict[str, Any] = {
        "method": "isolation_forest",
        "fpr": fpr,
        "threshold": round(threshold, 6),
        "fence": round(fence, 6),
        "flagged": len(flags),
    }
    return DetectorReport("ood", flags, metrics)
