"""Interaction data for shilling scans: a CSV of (user, item, rating, timestamp) rows read
by column name and checked, with users and items encoded as 0-based codes.

Every problem (missing file or column, empty cell, a rating or timestamp that is not a
number) is one DataError naming the file, the column and the first bad row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from redwatch.engine.data import MAX_ROWS
from redwatch.exceptions import DataError, first_line

USER, ITEM, RATING, TIMESTAMP = "user", "item", "rating", "timestamp"
MIN_USERS = 10


@dataclass(frozen=True)
class Interactions:
    """Ratings in file order: per row a user code, item code, rating and time (seconds);
    `user_ids` / `item_ids` map codes back to the ids in the file."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    source: str
    rating_column: str = RATING

    @property
    def rows(self) -> int:
        """Number of interaction rows."""
        return len(self.ratings)

    def user_id(self, code: int) -> Any:
        """The file's id of a user code, as a plain JSON value (int or str)."""
        return _plain(self.user_ids[code])

    def item_id(self, code: int) -> Any:
        """The file's id of an item code, as a plain JSON value (int or str)."""
        return _plain(self.item_ids[code])


def load_interactions(path: str | Path, rating: str | None = None) -> Interactions:
    """Read an interaction CSV; `rating` names the rating column (default `rating`)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file not found: {p}" if not p.exists() else f"not a file: {p}")
    try:
        frame = pd.read_csv(p, nrows=MAX_ROWS + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {p} as CSV: {first_line(exc)}") from None
    if len(frame) > MAX_ROWS:
        raise DataError(f"{p} has more than {MAX_ROWS:,} rows; sample it first")
    return interactions_from_frame(frame, str(p), rating or RATING)


def interactions_from_frame(
    frame: pd.DataFrame, source: str = "<frame>", rating: str = RATING
) -> Interactions:
    """Check and encode a frame with columns user, item, `rating`, timestamp."""
    columns = (USER, ITEM, rating, TIMESTAMP)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (columns: {found})")
    if len(frame) == 0:
        raise DataError(f"{source} has no data rows")
    for col in columns:
        _no_empty(frame[col], source, col)
    user_ids, users = np.unique(_ids(frame[USER]), return_inverse=True)
    item_ids, items = np.unique(_ids(frame[ITEM]), return_inverse=True)
    if len(user_ids) < MIN_USERS:
        raise DataError(f"{source}: {len(user_ids)} users; a shilling scan needs {MIN_USERS}")
    return Interactions(
        users.ravel().astype(np.int64),
        items.ravel().astype(np.int64),
        _numbers(frame[rating], source, rating),
        _seconds(frame[TIMESTAMP], source),
        user_ids,
        item_ids,
        source,
        rating,
    )


def _no_empty(series: pd.Series, source: str, col: str) -> None:
    """DataError at the first empty cell of a column."""
    empty = series.isna().to_numpy()
    if empty.any():
        raise DataError(f"{source}: column {col!r} is empty at row {int(np.argmax(empty))}")


def _ids(series: pd.Series) -> np.ndarray:
    """Integer ids stay integers; anything else is compared as text."""
    if pd.api.types.is_integer_dtype(series):
        return series.to_numpy(np.int64)
    return series.astype(str).to_numpy()


def _numbers(series: pd.Series, source: str, col: str) -> np.ndarray:
    """A column as finite float64; DataError naming the first value that is not."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{source}: column {col!r} is not a finite number at row {row} ({series.iloc[row]!r})"
        )
    return values


def _seconds(series: pd.Series, source: str) -> np.ndarray:
    """Timestamps as seconds: numbers as given, or date-time text converted (UTC)."""
    if pd.api.types.is_numeric_dtype(series):
        return _numbers(series, source, TIMESTAMP)
    parsed = pd.to_datetime(series, errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{source}: column {TIMESTAMP!r} is neither seconds nor a date at row {row} "
            f"({series.iloc[row]!r})"
        )
    epoch = pd.Timestamp(0, tz="UTC")
    return ((parsed - epoch) / pd.Timedelta(seconds=1)).to_numpy(np.float64)


def _plain(value: Any) -> Any:
    """A numpy scalar as the matching Python value."""
    return value.item() if isinstance(value, np.generic) else value
