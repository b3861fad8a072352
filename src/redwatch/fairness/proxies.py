"""Which model inputs carry a sensitive attribute: the correlation ratio (eta) of each
feature with the groups, 0 (same distribution in every group) to 1 (the feature tells the
group apart exactly). A high value marks a proxy the model can discriminate through."""

from __future__ import annotations

from typing import Any

import numpy as np


def correlation_ratios(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Eta per column of x: sqrt(between-group variance / total variance); 0 for a
    constant column."""
    x = np.asarray(x, dtype=np.float64)
    counts = np.bincount(codes).astype(np.float64)
    used = counts > 0
    sums = np.zeros((len(counts), x.shape[1]))
    np.add.at(sums, codes, x)
    means = sums[used] / counts[used, None]
    grand = x.mean(axis=0)
    between = (counts[used, None] * (means - grand) ** 2).sum(axis=0)
    total = ((x - grand) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = np.sqrt(np.where(total > 0, between / total, 0.0))
    return np.clip(eta, 0.0, 1.0)


def top_proxies(
    x: np.ndarray, codes: np.ndarray, names: list[str], limit: int = 5
) -> list[dict[str, Any]]:
    """The `limit` features most associated with the groups, strongest first."""
    eta = correlation_ratios(x, codes)
    order = np.argsort(-eta, kind="stable")[:limit]
    return [{"feature": names[i], "correlation_ratio": float(eta[i])} for i in order]
