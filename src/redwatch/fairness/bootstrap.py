"""Stratified bootstrap of the group rates: every replicate redraws each group's rows with
replacement, so group sizes stay as measured and small groups never vanish."""

from __future__ import annotations

import numpy as np

from redwatch.fairness.rates import Outcomes, disparities, group_rates

CHUNK_CELLS = 2_000_000  # replicates x rows per batch, bounds the memory used


def resample_rows(codes: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) row indices; position j always holds a row of group codes[j]."""
    rows = np.empty((n_boot, len(codes)), dtype=np.int64)
    for g in np.unique(codes):
        members = np.flatnonzero(codes == g)
        rows[:, members] = rng.choice(members, size=(n_boot, len(members)))
    return rows


def onehot(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(n, G) membership matrix of the positions."""
    matrix = np.zeros((len(codes), n_groups))
    matrix[np.arange(len(codes)), codes] = 1.0
    return matrix


def replicate_disparities(
    out: Outcomes, codes: np.ndarray, n_groups: int, n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    """(n_boot,) disparity values per replicate, computed in memory-bounded batches."""
    rng = np.random.default_rng(seed)
    members = onehot(codes, n_groups)
    batch = max(1, CHUNK_CELLS // max(1, len(codes)))
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, n_boot, batch):
        rows = resample_rows(codes, min(batch, n_boot - start), rng)
        parts.append(disparities(group_rates(out, rows, members)))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the defined replicate values (NaN, NaN when none is)."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return (float("nan"), float("nan"))
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return (float(low), float(high))
