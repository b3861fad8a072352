"""Per-group rates and the disparities between groups, vectorised over bootstrap replicates:
the same arithmetic gives the point estimate (one identity replicate) and the intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATES = ("selection_rate", "tpr", "fpr", "accuracy")
DISPARITIES = ("dp_difference", "dp_ratio", "eo_difference", "eo_ratio")


@dataclass(frozen=True)
class Outcomes:
    """Row-wise booleans: predicted favourable, truly favourable, prediction correct."""

    selected: np.ndarray
    positive: np.ndarray
    correct: np.ndarray

    @classmethod
    def of(cls, y_true: np.ndarray, y_pred: np.ndarray, favourable: int) -> Outcomes:
        """One-vs-rest outcomes for the favourable class; accuracy stays multiclass."""
        return cls(y_pred == favourable, y_true == favourable, y_pred == y_true)


def group_rates(out: Outcomes, rows: np.ndarray, onehot: np.ndarray) -> dict[str, np.ndarray]:
    """(B, G) rates per replicate and group. `rows` (B, n) picks data rows for each position;
    `onehot` (n, G) says which group each position belongs to (stratified resampling keeps
    it fixed). TPR is NaN for a group without positives, FPR without negatives."""
    size = onehot.sum(axis=0)
    sel = out.selected[rows].astype(np.float64)
    pos = out.positive[rows].astype(np.float64)
    n_pos = pos @ onehot
    n_neg = size - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.where(n_pos > 0, ((sel * pos) @ onehot) / n_pos, np.nan)
        fpr = np.where(n_neg > 0, ((sel * (1.0 - pos)) @ onehot) / n_neg, np.nan)
    return {
        "selection_rate": (sel @ onehot) / size,
        "tpr": tpr,
        "fpr": fpr,
        "accuracy": (out.correct[rows].astype(np.float64) @ onehot) / size,
    }


def disparities(rates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(B,) demographic-parity and equalized-odds differences and ratios between groups
    (fairlearn's between-groups definitions; groups with an undefined rate are left out)."""
    tpr_diff, fpr_diff = spread(rates["tpr"]), spread(rates["fpr"])
    return {
        "dp_difference": spread(rates["selection_rate"]),
        "dp_ratio": ratio(rates["selection_rate"]),
        "eo_difference": np.fmax(tpr_diff, fpr_diff),
        "eo_ratio": np.fmin(ratio(rates["tpr"]), ratio(rates["fpr"])),
    }


def spread(values: np.ndarray) -> np.ndarray:
    """Largest minus smallest defined value per row (NaN when fewer than one is defined)."""
    defined = np.isfinite(values)
    hi = np.where(defined, values, -np.inf).max(axis=1)
    lo = np.where(defined, values, np.inf).min(axis=1)
    return np.where(defined.any(axis=1), hi - lo, np.nan)


def ratio(values: np.ndarray) -> np.ndarray:
    """Smallest over largest defined value per row; 1 when all are zero (no gap)."""
    defined = np.isfinite(values)
    hi = np.where(defined, values, -np.inf).max(axis=1)
    lo = np.where(defined, values, np.inf).min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(hi > 0, lo / hi, 1.0)
    return np.where(defined.any(axis=1), value, np.nan)
