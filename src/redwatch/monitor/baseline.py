"""Per-feature reference distributions taken from reference data: quantile bins for numeric
features, category frequencies for categorical ones, plus a sorted sample for the KS test.
A window of live rows is compared against these (see drift.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from redwatch.exceptions import DataError, UsageError

NUMERIC = "numeric"
CATEGORICAL = "categorical"
MAX_SAMPLE = 10_000


@dataclass(frozen=True)
class FeatureRef:
    """The reference of one feature: its bins (numeric: inner quantile edges; categorical:
    the known values, with a last bin for values never seen), the share of reference rows in
    each bin, and a sorted sample of reference values (numeric only, for KS)."""

    name: str
    index: int
    kind: str
    edges: np.ndarray
    categories: tuple[float, ...]
    expected: np.ndarray
    counts: np.ndarray
    sample: np.ndarray
    mean: float
    std: float

    def bin_counts(self, values: np.ndarray) -> np.ndarray:
        """How many of `values` fall in each of this feature's bins."""
        return bin_counts(self.kind, self.edges, self.categories, values)


@dataclass(frozen=True)
class Baseline:
    """References of the monitored features of one target and the width rows must have."""

    features: tuple[FeatureRef, ...]
    n_columns: int
    n_rows: int

    def names(self) -> list[str]:
        """Monitored feature names, in order."""
        return [f.name for f in self.features]


def build_baseline(
    x: np.ndarray,
    names: Sequence[str],
    *,
    monitored: Sequence[str | int] | None = None,
    n_bins: int = 10,
    max_categories: int = 20,
    max_features: int = 100,
    seed: int = 0,
) -> Baseline:
    """The baseline of reference rows `x` (rows x columns, finite) named `names`.

    A column of integers with at most `max_categories` distinct values is categorical; the
    others are numeric. `monitored` picks features by name or index (default: the first
    `max_features`)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise DataError("reference data must be a table of at least 2 rows")
    if len(names) != x.shape[1]:
        raise DataError(f"{len(names)} feature names for {x.shape[1]} reference columns")
    if not np.all(np.isfinite(x)):
        raise DataError("reference data contains NaN or infinite values")
    if n_bins < 2 or max_categories < 1:
        raise UsageError("n_bins must be at least 2 and max_categories at least 1")
    columns = _pick(list(names), monitored, max_features)
    rng = np.random.default_rng(seed)
    refs = tuple(_feature(x[:, i], str(names[i]), i, n_bins, max_categories, rng) for i in columns)
    return Baseline(refs, x.shape[1], len(x))


def _pick(names: list[str], monitored: Sequence[str | int] | None, limit: int) -> list[int]:
    """Column indices to monitor; UsageError for an unknown name or index."""
    if monitored is None:
        return list(range(min(len(names), limit)))
    picked: list[int] = []
    for item in monitored:
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(names):
                raise UsageError(f"monitored feature index {item} is outside 0..{len(names) - 1}")
            picked.append(item)
        elif item in names:
            picked.append(names.index(str(item)))
        else:
            raise UsageError(f"monitored feature {item!r} is not a column of the reference data")
    return list(dict.fromkeys(picked))


def bin_counts(
    kind: str, edges: np.ndarray, categories: tuple[float, ...], values: np.ndarray
) -> np.ndarray:
    """Counts per bin: numeric values binned by `edges`, categorical values by category with
    one last bin for values the reference never had."""
    if kind == NUMERIC:
        idx = np.searchsorted(edges, values, side="right")
        return np.bincount(idx, minlength=len(edges) + 1)
    lookup = {c: i for i, c in enumerate(categories)}
    other = len(categories)
    codes = np.array([lookup.get(float(v), other) for v in values], dtype=np.int64)
    return np.bincount(codes, minlength=other + 1)


def _feature(
    column: np.ndarray,
    name: str,
    index: int,
    n_bins: int,
    max_categories: int,
    rng: np.random.Generator,
) -> FeatureRef:
    """The reference of one column."""
    values = np.unique(column)
    empty = np.empty(0)
    if len(values) <= max_categories and bool(np.all(np.mod(values, 1) == 0)):
        kind, edges, cats, sample = CATEGORICAL, empty, tuple(float(v) for v in values), empty
    else:
        kind, edges, cats = (
            NUMERIC,
            np.unique(np.quantile(column, np.arange(1, n_bins) / n_bins)),
            (),
        )
        keep = column if len(column) <= MAX_SAMPLE else rng.choice(column, MAX_SAMPLE, False)
        sample = np.sort(keep)
    counts = bin_counts(kind, edges, cats, column)
    expected = counts / counts.sum()
    mean, std = float(column.mean()), float(column.std())
    return FeatureRef(name, index, kind, edges, cats, expected, counts, sample, mean, std)
