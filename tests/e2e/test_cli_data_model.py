"""`redwatch data scan --model` end to end: the user's trained scikit-learn model is retrained
per fold for the label-error detector (named in the JSON summary) and finds the flips; an
unsafe model file is refused with exit 2 before it is unpickled."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytestmark = pytest.mark.e2e
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[int]]:
    """Breast cancer with 20 seeded flips, and a logistic regression trained on it."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    y = data.target.to_numpy().copy()
    rows = np.random.default_rng(11).choice(len(y), 20, replace=False)
    y[rows] = 1 - y[rows]
    frame["diagnosis"] = y
    root = tmp_path_factory.mktemp("model")
    frame.to_csv(root / "train.csv", index=False)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
    joblib.dump(model.fit(data.data.to_numpy(), y), root / "model.joblib")
    return root / "train.csv", root / "model.joblib", set(rows.tolist())


def test_user_model_finds_the_flips(cli, files: tuple[Path, Path, set[int]]) -> None:  # type: ignore[no-untyped-def]
    data, model, truth = files
    args = ["data", "scan", str(data), "--label", "diagnosis", "--model", str(model), "--json"]
    run = cli(*args, extra_env=ONE_THREAD)
    assert run.code == 1, run.stderr
    doc = run.json()
    summary = doc["summary"]["detectors"]["label_errors"]
    assert summary["learner"] == "user model Pipeline"
    found = {f["row"] for f in doc["flagged"]}
    assert len(found & truth) >= 16


def test_unsafe_model_is_refused_with_exit_2(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, files: tuple[Path, Path, set[int]]
) -> None:
    data, _, _ = files
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    evil.write_bytes(f"cposix\nsystem\n(Vtouch {marker}\ntR.".encode())
    run = cli("data", "scan", str(data), "--label", "diagnosis", "--model", str(evil))
    assert run.code == 2
    assert "refusing to load" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not marker.exists()
