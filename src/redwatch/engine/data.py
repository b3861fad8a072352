"""Evaluation data: read a CSV into features and labels, and check it fits the target.
Every problem becomes a one-line DataError naming the file, column or row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from redwatch.exceptions import DataError, first_line

MAX_ROWS = 1_000_000


@dataclass
class Dataset:
    """Numeric features (rows x columns), optional raw labels, and the column names."""

    x: np.ndarray
    y_raw: np.ndarray | None
    feature_names: list[str]
    label: str | None
    source: str


def load_csv(path: str | Path, label: str | None = None) -> Dataset:
    """Read a CSV with a header row; every non-label column must be numeric and finite."""
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
    y_raw = None
    if label is not None:
        if label not in frame.columns:
            cols = ", ".join(map(str, frame.columns[:20]))
            raise DataError(f"label column {label!r} not in {p} (columns: {cols})")
        if frame[label].isna().any():
            row = int(np.flatnonzero(frame[label].isna().to_numpy())[0])
            raise DataError(f"{p}: label column {label!r} is empty at row {row}")
        y_raw = frame.pop(label).to_numpy()
    if frame.shape[1] == 0:
        raise DataError(f"{p} has no feature columns")
    return Dataset(_numeric(frame, p), y_raw, [str(c) for c in frame.columns], label, str(p))


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
        return Dataset(data.x[:, idx], data.y_raw, list(feature_names), data.label, data.source)
    if n_features is not None and data.x.shape[1] != n_features:
        raise DataError(
            f"{data.source} has {data.x.shape[1]} feature columns, the model expects {n_features}"
        )
    return data
