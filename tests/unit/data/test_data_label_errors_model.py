"""`--model` for the data scan: the user's estimator is retrained per fold for the label-error
detector, a PyTorch module feeds the backdoor detector, and unsafe or non-retrainable model
files are refused in one line before anything is unpickled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from redwatch.data.label_errors import detect_label_errors, make_learner
from redwatch.data.representations import image_net
from redwatch.data.scan import ScanOptions, scan_file
from redwatch.data.user_model import load_user_model
from redwatch.exceptions import UnsafeArtifactError, UsageError


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One BLAS / OpenMP thread: the machine is shared."""
    with threadpool_limits(limits=1):
        yield


def _flipped(rate: float, seed: int) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """Breast cancer with round(rate * n) seeded label flips."""
    x, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(seed).choice(len(y), size=round(rate * len(y)), replace=False)
    noisy = y.copy()
    noisy[rows] = 1 - noisy[rows]
    return x, noisy, set(rows.tolist())


def _knn() -> Any:
    return make_pipeline(StandardScaler(), KNeighborsClassifier(15))


def test_user_estimator_is_retrained_per_fold_and_finds_flips() -> None:
    x, y, truth = _flipped(0.05, seed=1)
    report = detect_label_errors(x, y, ["m", "b"], model=_knn(), seed=0)
    found = {f.row for f in report.flags}
    assert report.metrics["learner"] == "user model Pipeline"
    assert report.metrics["passes"] == 2
    assert len(found & truth) / len(truth) >= 0.75
    assert len(found & truth) / len(found) >= 0.75


def test_second_pass_finds_at_least_what_the_first_found() -> None:
    x, y, truth = _flipped(0.1, seed=0)
    report = detect_label_errors(x, y, ["m", "b"], learner="logreg", seed=0)
    assert report.metrics["issues"] >= report.metrics["first_pass_issues"] > 0
    found = {f.row for f in report.flags}
    assert len(found & truth) / len(truth) >= 0.8


def test_flags_are_ordered_most_certain_first() -> None:
    x, y, _ = _flipped(0.05, seed=2)
    report = detect_label_errors(x, y, ["m", "b"], learner="logreg", seed=0)
    scores = [f.score for f in report.flags]
    assert scores == sorted(scores, reverse=True)


def test_svc_learner_keeps_pixel_scale_when_asked() -> None:
    steps = [type(s).__name__ for s in make_learner("svc", 0, standardize=False)[0]]
    assert steps == ["_Components", "SVC"]
    steps = [type(s).__name__ for s in make_learner("svc", 0)[0]]
    assert steps[0] == "StandardScaler"


def test_a_torch_module_is_retrained_on_tables() -> None:
    torch.manual_seed(0)
    x, y, truth = _flipped(0.05, seed=3)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    net = torch.nn.Sequential(torch.nn.Linear(30, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    report = detect_label_errors(x, y, ["m", "b"], model=net, seed=0)
    found = {f.row for f in report.flags}
    assert report.metrics["learner"] == "user model Sequential"
    assert len(found & truth) / len(truth) >= 0.6


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Breast cancer with 15 flips as a CSV."""
    x, y, _ = _flipped(0.026, seed=4)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame["label"] = y
    path = tmp_path_factory.mktemp("model") / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_scan_uses_the_model_file(table_csv: Path, tmp_path: Path) -> None:
    model = tmp_path / "knn.joblib"
    x, y = load_breast_cancer(return_X_y=True)
    joblib.dump(_knn().fit(x, y), model)  # a trained model, as users have; refitted per fold
    result = scan_file(table_csv, "label", ScanOptions(model=str(model)))
    metrics = {r.name: r.metrics for r in result.reports}
    assert metrics["label_errors"]["learner"] == "user model Pipeline"
    assert metrics["label_errors"]["issues"] > 5


def test_unsafe_model_file_is_refused_unread(table_csv: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    evil.write_bytes(f"cposix\nsystem\n(Vtouch {marker}\ntR.".encode())
    with pytest.raises(UnsafeArtifactError, match="refusing to load"):
        scan_file(table_csv, "label", ScanOptions(model=str(evil)))
    assert not marker.exists()


def test_a_model_that_cannot_be_retrained_is_a_usage_error(tmp_path: Path) -> None:
    import xgboost

    x, y = load_breast_cancer(return_X_y=True)
    booster = xgboost.train(
        {"max_depth": 2, "objective": "binary:logistic"},
        xgboost.DMatrix(x, label=y),
        num_boost_round=3,
    )
    path = tmp_path / "model.json"
    booster.save_model(path)
    with pytest.raises(UsageError, match="cannot be retrained per fold"):
        load_user_model(str(path))


def test_image_scan_reads_the_user_network(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(x / 16.0, columns=[f"p{i}" for i in range(64)])
    frame["digit"] = y
    data = tmp_path / "digits.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "net.pt"
    torch.save(image_net((1, 8, 8), 10), model)
    loaded = load_user_model(str(model), input_shape=(1, 8, 8), trust_model=True)
    assert loaded.is_torch
    options = ScanOptions(kind="image", model=str(model), trust_model=True, learner="logreg")
    result = scan_file(data, "digit", options)
    metrics = {r.name: r.metrics for r in result.reports}
    assert metrics["backdoor"]["representation"] == "user model"
    assert metrics["label_errors"]["learner"] == "logreg"
