"""scan_file end to end without the CLI: detectors merged, bad input refused in one line,
and the HTML report escapes what comes from the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from redwatch.data.report_html import render_html
from redwatch.data.scan import ScanOptions, scan_file
from redwatch.exceptions import DataError, UsageError


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[int], int]:
    """Breast cancer with 15 flipped labels and a conflicting copy of row 0 appended."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    label = np.where(data.target == 1, "<b>benign</b>", "malignant")
    rng = np.random.default_rng(4)
    flipped = rng.choice(len(frame), 15, replace=False)
    label[flipped] = np.where(label[flipped] == "malignant", "<b>benign</b>", "malignant")
    frame["diagnosis"] = label
    copy = frame.iloc[[0]].copy()
    copy["diagnosis"] = "<b>benign</b>" if frame.loc[0, "diagnosis"] == "malignant" else "malignant"
    frame = pd.concat([frame, copy], ignore_index=True)
    path = tmp_path_factory.mktemp("scan") / "data.csv"
    frame.to_csv(path, index=False)
    return path, set(flipped.tolist()), len(frame) - 1


def test_scan_finds_flips_and_the_conflicting_copy(poisoned: tuple[Path, set[int], int]) -> None:
    path, flipped, copy_row = poisoned
    result = scan_file(path, "diagnosis", ScanOptions(learner="logreg"))
    rows = {f.row: f for f in result.flagged}
    assert len(flipped & set(rows)) >= 10  # 15 flips at 2.6 %: most, not all, are found
    assert "duplicate_conflict" in " ".join(rows[copy_row].reasons)
    assert [f.row for f in result.flagged] == sorted(rows)
    doc = result.to_dict()
    assert doc["summary"]["rows"] == copy_row + 1
    assert set(doc["summary"]["detectors"]) == {"label_errors", "duplicates", "ood"}
    scores = [f["score"] for f in doc["flagged"]]
    assert scores == sorted(scores, reverse=True)
    page = render_html(result)
    assert "&lt;b&gt;benign&lt;/b&gt;" in page
    assert "<b>benign</b>" not in page


def _csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / f"bad{len(list(tmp_path.iterdir()))}.csv"
    frame.to_csv(path, index=False)
    return path


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    good = pd.DataFrame({"a": np.arange(20.0), "y": [0, 1] * 10})
    cases: list[tuple[Path, str, str]] = [
        (tmp_path / "missing.csv", "y", "not found"),
        (_csv(tmp_path, good), "label", "label column 'label' not in"),
        (_csv(tmp_path, good.assign(a=[np.nan] + [1.0] * 19)), "y", "missing or infinite"),
        (_csv(tmp_path, good.assign(y=0)), "y", "only one class"),
        (_csv(tmp_path, good.assign(y=[0] * 17 + [1] * 3)), "y", "needs at least 5 per class"),
    ]
    for path, label, message in cases:
        with pytest.raises(DataError, match=message) as info:
            scan_file(path, label, ScanOptions())
        assert "\n" not in str(info.value)


def test_image_options_are_checked(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"a": np.arange(20.0), "b": 1.0, "y": [0, 1] * 10}))
    with pytest.raises(UsageError, match="not a square image"):
        scan_file(path, "y", ScanOptions(kind="image"))
    with pytest.raises(DataError, match="needs 4 feature columns"):
        scan_file(path, "y", ScanOptions(kind="image", image_shape=(1, 2, 2)))
    with pytest.raises(UsageError, match="unknown --kind"):
        scan_file(path, "y", ScanOptions(kind="audio"))
