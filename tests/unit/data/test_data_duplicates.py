"""Duplicate detector: conflicting copies score high, plain copies low, distinct rows none."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris

from redwatch.data.duplicates import CONFLICT_SCORE, COPY_SCORE, detect_duplicates


def _iris_unique() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    _, keep = np.unique(x, axis=0, return_index=True)
    keep.sort()
    return x[keep], y[keep]


def test_distinct_rows_get_no_flags() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    report = detect_duplicates(x, rng.integers(0, 2, 300), ["a", "b"])
    assert report.flags == ()
    assert report.metrics["copy_groups"] == 0


def test_exact_and_near_copies_with_and_without_conflict() -> None:
    x, y = _iris_unique()
    n = len(x)
    extra_x = np.stack([x[3], x[10], x[20] + 1e-4])
    extra_y = np.array([y[3], (y[10] + 1) % 3, (y[20] + 2) % 3])
    report = detect_duplicates(
        np.vstack([x, extra_x]), np.concatenate([y, extra_y]), ["setosa", "versicolor", "virginica"]
    )
    by_row = {f.row: f for f in report.flags}
    assert by_row[n].score == COPY_SCORE
    assert "exact copy of row 3" in by_row[n].reasons[0]
    assert 3 not in by_row
    for row in (10, n + 1, 20, n + 2):
        assert by_row[row].score == CONFLICT_SCORE
        assert by_row[row].reasons[0].startswith("duplicate_conflict")
    assert "near copy" in by_row[n + 2].reasons[0]
    assert set(by_row) == {n, 10, n + 1, 20, n + 2}
    assert report.metrics["conflicting_groups"] == 2
