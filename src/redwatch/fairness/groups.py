"""Turn a sensitive column into groups: text and few-valued numbers are groups as they are,
numbers with many distinct values are cut into quantile bins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MANY_VALUES = 10  # a numeric column with more distinct values than this is binned


@dataclass(frozen=True)
class Groups:
    """Group names in display order and each row's group code (index into names)."""

    names: tuple[str, ...]
    codes: np.ndarray
    binned: bool = False

    def sizes(self) -> np.ndarray:
        """Rows per group, in the order of names."""
        return np.bincount(self.codes, minlength=len(self.names))


def make_groups(values: np.ndarray, bins: int) -> Groups:
    """Groups of a raw sensitive column; numeric columns with many values get `bins`
    quantile bins (fewer when quantiles coincide)."""
    series = pd.Series(np.asarray(values))
    if _is_numeric(series) and series.nunique() > MANY_VALUES:
        return _quantile_groups(series.astype(np.float64), bins)
    labels = series.map(_label)
    names = tuple(sorted(labels.unique(), key=_order_key))
    lookup = {name: i for i, name in enumerate(names)}
    return Groups(names, labels.map(lookup).to_numpy(np.int64))


def _quantile_groups(series: pd.Series, bins: int) -> Groups:
    """Bins cut at the inner quantiles (tied quantiles merge, so a column that is mostly
    zero still splits into '0' and the rest), named by their value ranges, e.g. '18-29.5'."""
    values = series.to_numpy(np.float64)
    cuts = np.unique(np.quantile(values, np.arange(1, bins) / bins))
    codes = np.searchsorted(cuts, values, side="left")
    used, codes = np.unique(codes, return_inverse=True)
    names = []
    for k in range(len(used)):
        inside = values[codes == k]
        lo, hi = _number(inside.min()), _number(inside.max())
        names.append(lo if lo == hi else f"{lo}-{hi}")
    return Groups(tuple(names), codes.astype(np.int64), binned=True)


def _number(value: float) -> str:
    """A bin edge without exponent: whole numbers as such, others to 4 significant digits."""
    if float(value).is_integer() or abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def _is_numeric(series: pd.Series) -> bool:
    """Numbers (not booleans): those may be binned."""
    return bool(pd.api.types.is_numeric_dtype(series)) and series.dtype != bool


def _label(value: object) -> str:
    """Display name of a group value; 1.0 shows as '1'."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _order_key(name: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then text in alphabetical order."""
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)
