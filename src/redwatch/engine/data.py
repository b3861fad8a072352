"""Evaluation data: read a CSV into features and labels, and check it fits the target.
Every problem becomes a one-line DataError naming the file, column or row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from redwatch.exceptions import DataError, first_line

MAX_ROWS = 1_000_000


@dataclass
class Dataset:
    """Numeric features (rows x columns), optional raw labels, and the column names.

    `sensitive` holds the declared sensitive columns by name, raw values row-aligned with x
    (text stays text); a numeric one may also be a feature column."""

    x: np.ndarray
    y_raw: np.ndarray | None
    feature_names: list[str]
    label: str | None
    source: str
    sensitive: dict[str, np.ndarray] = field(default_factory=dict)

    def take(self, rows: np.ndarray) -> Dataset:
        """The same data restricted to `rows` (indices), sensitive columns included."""
        return Dataset(
            self.x[rows],
            None if self.y_raw is None else self.y_raw[rows],
            self.feature_names,
            self.label,
            self.source,
            {name: values[rows] for name, values in self.sensitive.items()},
        )


def load_csv(path: str | Path, label: str | None = None, sensitive: Sequence[str] = ()) -> Dataset:
    """Read a CSV with a header row; every non-label column must be numeric and finite,
    except sensitive columns that are text: those are kept aside, not as features."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file not found: {p}")
    if not p.is_file():
        raise DataError(f"data path is not a file: {p}")
    try:
        frame = pd.read_csv(p, nrows=MAX_ROWS + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {p} as CSV: {first_line(exc)}") from None
    if len(frame) == 0:
        raise DataError(f"{p} has no data rows")
    if len(frame) > MAX_ROWS:
        raise DataError(f"{p} has more than {MAX_ROWS:,} rows; sample it first")
    side = _sensitive_columns(frame, sensitive, p)
    y_raw = None
    if label is not None:
        if label not in frame.columns:
            cols = ", ".join(map(str, frame.columns[:20]))
            raise DataError(f"label column {label!r} not in {p} (columns: {cols})")
        if frame[label].isna().any():
            row = int(np.flatnonzero(frame[label].isna().to_numpy())[0])
            raise DataError(f"{p}: label column {label!r} is empty at row {row}")
        y_raw = frame.pop(label).to_numpy()
    text = [c for c in side if c in frame.columns and not _is_numeric(frame[c])]
    frame = frame.drop(columns=text)
    if frame.shape[1] == 0:
        raise DataError(f"{p} has no feature columns")
    names = [str(c) for c in frame.columns]
    return Dataset(_numeric(frame, p), y_raw, names, label, str(p), side)


def _sensitive_columns(
    frame: pd.DataFrame, names: Sequence[str], path: Path
) -> dict[str, np.ndarray]:
    """Raw values of each named sensitive column; DataError for an unknown column or an
    empty cell (named by its 0-based row)."""
    side: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(names):
        if name not in frame.columns:
            cols = ", ".join(map(str, frame.columns[:20]))
            raise DataError(f"sensitive column {name!r} not in {path} (columns: {cols})")
        empty = frame[name].isna().to_numpy()
        if empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise DataError(f"{path}: sensitive column {name!r} is empty at row {row}")
        side[name] = frame[name].to_numpy()
    return side


def _is_numeric(series: pd.Series) -> bool:
    """True for bool or numeric columns (those can be model features)."""
    return series.dtype == bool or bool(pd.api.types.is_numeric_dtype(series))


def _numeric(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """Feature matrix as float64; DataError naming the first bad column and row."""
    for col in frame.columns:
        series = frame[col]
        if series.dtype == bool:
            continue
        if not pd.api.types.is_numeric_dtype(series):
            bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
            example = bad.iloc[0] if len(bad) else "?"
            raise DataError(
                f"{path}: column {col!r} is not numeric (e.g. {example!r} at row "
                f"{int(bad.index[0]) if len(bad) else 0}); encode it first"
            )
    x = frame.to_numpy(dtype=np.float64)
    bad_rows, bad_cols = np.nonzero(~np.isfinite(x))
    if len(bad_rows):
        col = frame.columns[bad_cols[0]]
        count = int((~np.isfinite(x[:, bad_cols[0]])).sum())
        raise DataError(
            f"{path}: column {col!r} has {count} missing or infinite value(s) "
            f"(first at row {int(bad_rows[0])})"
        )
    return x


def align(data: Dataset, feature_names: tuple[str, ...] | None, n_features: int | None) -> Dataset:
    """Reorder columns to the model's feature names, or check the column count.

    Raises DataError naming the missing or extra columns."""
    if feature_names is not None:
        missing = [f for f in feature_names if f not in data.feature_names]
        if missing:
            raise DataError(
                f"{data.source} lacks column(s) the model was trained on: {', '.join(missing[:10])}"
            )
        idx = [data.feature_names.index(f) for f in feature_names]
        return Dataset(
            data.x[:, idx], data.y_raw, list(feature_names), data.label, data.source, data.sensitive
        )
    if n_features is not None and data.x.shape[1] != n_features:
        data = _drop_side_columns(data, n_features)
    if n_features is not None and data.x.shape[1] != n_features:
        raise DataError(
            f"{data.source} has {data.x.shape[1]} feature columns, the model expects {n_features}"
        )
    return data


def _drop_side_columns(data: Dataset, n_features: int) -> Dataset:
    """A model without feature names and one column too many per numeric sensitive column:
    those columns are side columns, not inputs, so drop them from x."""
    side = [i for i, name in enumerate(data.feature_names) if name in data.sensitive]
    if not side or data.x.shape[1] - len(side) != n_features:
        return data
    keep = [i for i in range(data.x.shape[1]) if i not in side]
    names = [data.feature_names[i] for i in keep]
    return Dataset(data.x[:, keep], data.y_raw, names, data.label, data.source, data.sensitive)
