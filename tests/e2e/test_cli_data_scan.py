"""`redwatch data scan` end to end: flipped labels found (exit 1) with JSON, HTML and an
exact quarantine split; clean data exits 0; bad input exits 2 and writes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

pytestmark = pytest.mark.e2e
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def flipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[int]]:
    """Breast cancer with 20 seeded label flips."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    y = data.target.to_numpy().copy()
    rows = np.random.default_rng(7).choice(len(y), 20, replace=False)
    y[rows] = 1 - y[rows]
    frame["diagnosis"] = y
    path = tmp_path_factory.mktemp("data") / "train.csv"
    frame.to_csv(path, index=False)
    return path, set(rows.tolist())


def _records(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_flips_found_reported_and_quarantined(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, flipped: tuple[Path, set[int]]
) -> None:
    path, truth = flipped
    args = ["data", "scan", str(path), "--label", "diagnosis", "--out", "report"]
    run = cli(*args, "--quarantine", "q/flagged.csv", "--json", extra_env=ONE_THREAD)
    assert run.code == 1, run.stderr
    doc = run.json()
    found = {f["row"] for f in doc["flagged"]}
    assert len(found & truth) >= 17
    assert doc["summary"]["rows"] == 569
    assert doc["summary"]["flagged"] == len(found)
    assert any("label_issue" in r for f in doc["flagged"] for r in f["reasons"])
    saved = (tmp_path / "report" / "data-scan.json").read_text()
    assert '"flagged"' in saved
    assert "rows flagged" in (tmp_path / "report" / "data-scan.html").read_text()
    source = _records(path)
    quarantined = _records(tmp_path / "q" / "flagged.csv")
    clean = _records(tmp_path / "q" / "flagged.clean.csv")
    assert quarantined[0] == clean[0] == source[0]
    body = source[1:]
    assert quarantined[1:] == [body[i] for i in sorted(found)]
    assert clean[1:] == [r for i, r in enumerate(body) if i not in found]


def test_clean_data_exits_zero(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(-4, 1, (100, 3)), rng.normal(4, 1, (100, 3))])
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=[0] * 100 + [1] * 100)
    frame.to_csv(tmp_path / "clean.csv", index=False)
    run = cli("data", "scan", "clean.csv", "--label", "y", extra_env=ONE_THREAD)
    assert run.code == 0, run.stdout + run.stderr
    assert "0 of 200 rows flagged" in run.stdout


@pytest.mark.parametrize(
    ("frame", "label", "message"),
    [
        (None, "y", "data file not found"),
        (pd.DataFrame({"a": range(20), "y": [0, 1] * 10}), "z", "label column 'z' not in"),
        (pd.DataFrame({"a": [np.nan, *range(19)], "y": [0, 1] * 10}), "y", "missing or infinite"),
        (pd.DataFrame({"a": range(20), "y": 1}), "y", "only one class"),
        (pd.DataFrame({"a": range(20), "y": [0] * 18 + [1] * 2}), "y", "at least 5 per class"),
    ],
)
def test_bad_input_exits_two_and_writes_nothing(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, frame: pd.DataFrame | None, label: str, message: str
) -> None:
    if frame is not None:
        frame.to_csv(tmp_path / "bad.csv", index=False)
    run = cli("data", "scan", "bad.csv", "--label", label, "--out", "o", "--quarantine", "q.csv")
    assert run.code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "q.csv").exists()


@pytest.mark.slow
def test_image_backdoor_rows_are_found(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    """Digits with a 2x2 corner patch relabelled to 0 on 5 % of the rows: confident learning
    misses them (the model learns the patch), the backdoor detector finds them."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = x / 16.0, y.copy()
    poisoned = np.random.default_rng(0).choice(len(y), 90, replace=False)
    for i in poisoned:
        x[i].reshape(8, 8)[6:, 6:] = 1.0
        y[i] = 0
    frame = pd.DataFrame(x, columns=[f"p{i}" for i in range(64)])
    frame["label"] = y
    path = tmp_path / "digits.csv"
    frame.to_csv(path, index=False)
    args = ["data", "scan", str(path), "--label", "label", "--kind", "image"]
    run = cli(*args, "--image-shape", "1,8,8", "--json", extra_env=ONE_THREAD)
    assert run.code == 1, run.stderr
    doc = run.json()
    backdoor = {f["row"] for f in doc["flagged"] if any("backdoor" in r for r in f["reasons"])}
    truth = set(poisoned.tolist())
    assert len(backdoor & truth) >= 85
    assert len(backdoor - truth) <= 10
    assert doc["summary"]["detectors"]["backdoor"]["suspicious_classes"] == [0]
