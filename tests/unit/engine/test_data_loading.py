"""CSV loading: every bad input is a one-line DataError naming the problem."""

from pathlib import Path

import numpy as np
import pytest

from redwatch.engine.data import align, load_csv
from redwatch.exceptions import DataError


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "d.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_reads_features_and_labels(tmp_path: Path) -> None:
    d = load_csv(_write(tmp_path, "a,b,y\n1,2,yes\n3,4.5,no\n"), "y")
    assert d.feature_names == ["a", "b"]
    np.testing.assert_array_equal(d.x, [[1, 2], [3, 4.5]])
    assert list(d.y_raw) == ["yes", "no"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "label", "message"),
    [
        ("a,b\n1,2\n", "y", "label column 'y' not in"),
        ("a,b\n1,\n", None, "column 'b' has 1 missing or infinite value"),
        ("a,b\n1,inf\n", None, "column 'b' has 1 missing or infinite value"),
        ("a,b\n1,x\n", None, "column 'b' is not numeric"),
        ("a,b\n", None, "has no data rows"),
        ("", None, "cannot read"),
        ("y\n1\n", "y", "has no feature columns"),
        ("a,y\n1,\n", "y", "label column 'y' is empty at row 0"),
    ],
)
def test_bad_input_names_the_problem(
    tmp_path: Path, text: str, label: str | None, message: str
) -> None:
    with pytest.raises(DataError, match=message) as info:
        load_csv(_write(tmp_path, text), label)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        load_csv(tmp_path / "nope.csv")


def test_align_reorders_by_model_feature_names_and_reports_missing(tmp_path: Path) -> None:
    d = load_csv(_write(tmp_path, "b,a\n2,1\n"))
    assert align(d, ("a", "b"), None).x.tolist() == [[1.0, 2.0]]
    with pytest.raises(DataError, match="lacks column"):
        align(d, ("a", "c"), None)
    with pytest.raises(DataError, match="has 2 feature columns, the model expects 3"):
        align(d, None, 3)
