"""Label errors on images: the learner `auto` picks the small CNN mix when an image shape is
known, the CNN finds flipped MNIST digits in one pass, and image learners need images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from redwatch.data.label_errors import IMAGE_DEFAULT, detect_label_errors, resolve_learner
from redwatch.data.scan import ScanOptions, scan_file
from redwatch.demo.datasets import load_mnist5k
from redwatch.exceptions import UsageError

NAMES = [str(d) for d in range(10)]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One BLAS / OpenMP / torch thread: the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)


def _flipped_mnist(
    per_class: int, rate: float, seed: int
) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """`per_class` MNIST digits of each class, with round(rate * n) labels moved elsewhere."""
    x, y = load_mnist5k()
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, False) for c in range(10)])
    x, y = x[keep], y[keep].copy()
    rows = rng.choice(len(y), round(rate * len(y)), replace=False)
    y[rows] = (y[rows] + rng.integers(1, 10, len(rows))) % 10
    return x, y, set(rows.tolist())


def test_auto_is_the_cnn_mix_for_images_and_the_ensemble_for_tables() -> None:
    assert resolve_learner("auto", (1, 28, 28)) == IMAGE_DEFAULT == "cnn+ensemble"
    assert resolve_learner("auto", None) == "ensemble"
    assert resolve_learner("logreg", (1, 28, 28)) == "logreg"


@pytest.mark.parametrize("learner", ["cnn", "cnn+ensemble"])
def test_image_learners_need_an_image_shape(learner: str) -> None:
    with pytest.raises(UsageError, match="needs images"):
        detect_label_errors(np.zeros((20, 4)), np.arange(20) % 2, ["a", "b"], learner=learner)


def test_unknown_learner_names_the_choices() -> None:
    with pytest.raises(UsageError, match="cnn\\+ensemble"):
        resolve_learner("resnet", (1, 28, 28))


@pytest.mark.slow
def test_cnn_finds_flipped_digits_in_one_pass_and_beats_logreg() -> None:
    x, y, truth = _flipped_mnist(100, 0.1, seed=5)
    report = detect_label_errors(x, y, NAMES, learner="cnn", input_shape=(1, 28, 28), seed=0)
    found = {f.row for f in report.flags}
    assert report.metrics["learner"] == "cnn"
    assert report.metrics["passes"] == 1
    assert report.metrics["cleanlab_filter"] == "confident_learning"
    assert len(found & truth) / len(truth) >= 0.8
    assert len(found & truth) / len(found) >= 0.6
    linear = detect_label_errors(x, y, NAMES, learner="logreg", seed=0, standardize=False)
    assert report.metrics["out_of_fold_accuracy"] > linear.metrics["out_of_fold_accuracy"]


def test_same_seed_same_cnn_flags() -> None:
    x, y = load_digits(return_X_y=True)
    x, y = x[:300], y[:300].copy()
    y[:30] = (y[:30] + 1) % 10
    first = detect_label_errors(x, y, NAMES, learner="cnn", input_shape=(1, 8, 8), seed=2)
    again = detect_label_errors(x, y, NAMES, learner="cnn", input_shape=(1, 8, 8), seed=2)
    assert first.flags == again.flags
    assert len({f.row for f in first.flags} & set(range(30))) >= 20


def test_image_scan_uses_the_cnn_mix_by_default(tmp_path: Path) -> None:
    x, y = load_digits(return_X_y=True)
    keep = np.random.default_rng(0).choice(len(y), 400, replace=False)
    frame = pd.DataFrame(x[keep], columns=[f"p{i}" for i in range(64)])  # 0-16: scaled inside
    frame["digit"] = y[keep]
    path = tmp_path / "digits.csv"
    frame.to_csv(path, index=False)
    result = scan_file(path, "digit", ScanOptions(kind="image", image_shape=(1, 8, 8)))
    metrics = {r.name: r.metrics for r in result.reports}["label_errors"]
    assert metrics["learner"] == "cnn+ensemble"
    assert metrics["out_of_fold_accuracy"] > 0.85
