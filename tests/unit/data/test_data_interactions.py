"""Interaction CSV loading: columns by name, the rating column renamed, ids encoded, dates
converted, and every bad input one DataError naming the column and row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redwatch.data.interactions import interactions_from_frame, load_interactions
from redwatch.exceptions import DataError


def _frame(users: int = 12) -> pd.DataFrame:
    rows = [
        (f"u{u}", i, 1 + (u + i) % 5, 1_000 + 10 * u + i) for u in range(users) for i in range(4)
    ]
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_csv_round_trip_encodes_ids(tmp_path: Path) -> None:
    _frame().to_csv(tmp_path / "r.csv", index=False)
    data = load_interactions(tmp_path / "r.csv")
    assert data.rows == 48
    assert len(data.user_ids) == 12
    assert len(data.item_ids) == 4
    assert data.user_id(int(data.users[0])) == "u0"
    assert data.item_id(int(data.items[5])) == 1
    assert isinstance(data.item_id(0), int)
    assert data.ratings.dtype == np.float64
    assert data.timestamps[0] == 1000.0


def test_label_names_the_rating_column(tmp_path: Path) -> None:
    _frame().rename(columns={"rating": "stars"}).to_csv(tmp_path / "r.csv", index=False)
    data = load_interactions(tmp_path / "r.csv", "stars")
    assert data.rating_column == "stars"
    with pytest.raises(DataError, match=r"missing column\(s\) rating"):
        load_interactions(tmp_path / "r.csv")


def test_dates_become_seconds() -> None:
    frame = _frame().assign(timestamp="1998-01-01T00:00:10Z")
    data = interactions_from_frame(frame)
    assert data.timestamps[0] == pd.Timestamp("1998-01-01T00:00:10Z").timestamp()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="timestamp"), r"missing column\(s\) timestamp"),
        (lambda f: f.assign(rating=f["rating"].where(f.index != 3)), "'rating' is empty at row 3"),
        (lambda f: f.assign(user=f["user"].where(f.index != 2)), "'user' is empty at row 2"),
        (
            lambda f: f.assign(rating=f["rating"].astype(object).where(f.index != 4, "five")),
            "'rating' is not a finite number at row 4",
        ),
        (
            lambda f: f.assign(timestamp=f["timestamp"].astype(object).where(f.index != 1, "x")),
            "neither seconds nor a date at row 1",
        ),
        (lambda f: f[f["user"].isin(["u0", "u1"])], "2 users"),
        (lambda f: f.iloc[:0], "no data rows"),
    ],
)
def test_bad_frames_raise_one_line(change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(DataError, match=message) as info:
        interactions_from_frame(change(_frame()), "r.csv")
    assert "\n" not in str(info.value)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        load_interactions(tmp_path / "none.csv")
