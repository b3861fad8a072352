"""Backdoor detector: finds a BadNets patch in scikit-learn's 8x8 digits without knowing the
poison rate, leaves a clean set alone, accepts the user's torch model, and rejects bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from redwatch.data.backdoor import class_split, detect_backdoor, separation_cutoff
from redwatch.data.representations import penultimate, scaled_inputs, train_own_net
from redwatch.exceptions import DataError, TargetError, UsageError

SHAPE = (1, 8, 8)


def poisoned_digits(rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits (values 0-16) with a bright 2x2 patch in the bottom-right corner of `rate` of the
    rows (non-zero labels), relabelled 0; returns x, y and the poison mask."""
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    rows = rng.choice(np.flatnonzero(y != 0), round(rate * len(y)), replace=False)
    images = x.reshape(-1, 8, 8).copy()
    images[rows, 6:8, 6:8] = 16.0
    y = y.copy()
    y[rows] = 0
    bad = np.zeros(len(y), dtype=bool)
    bad[rows] = True
    return images.reshape(len(y), -1), y, bad


def flagged_mask(report_rows: list[int], n: int) -> np.ndarray:
    """A boolean mask from flagged row indices."""
    mask = np.zeros(n, dtype=bool)
    mask[report_rows] = True
    return mask


@pytest.mark.slow
def test_finds_patch_poison_and_nothing_else() -> None:
    torch.set_num_threads(1)
    x, y, bad = poisoned_digits(0.05)
    report = detect_backdoor(x, y, image_shape=SHAPE, seed=0, epochs=6)
    flagged = flagged_mask([f.row for f in report.flags], len(y))
    assert report.name == "backdoor"
    assert (flagged & bad).sum() / bad.sum() >= 0.9
    assert (flagged & ~bad).sum() <= 0.01 * (~bad).sum()
    assert report.metrics["suspicious_classes"] == [0]
    assert all(f.reasons[0].startswith("backdoor: class 0") for f in report.flags)


@pytest.mark.slow
def test_clean_digits_get_no_flags() -> None:
    torch.set_num_threads(1)
    x, y, _ = poisoned_digits(0.0)
    report = detect_backdoor(x, y, image_shape=SHAPE, seed=0, epochs=6)
    assert report.flags == ()
    assert report.metrics["suspicious_classes"] == []
    assert set(report.metrics["per_class"]) == {str(c) for c in range(10)}


def test_user_model_representations_are_used() -> None:
    torch.set_num_threads(1)
    x, y, _ = poisoned_digits(0.0)
    inputs = scaled_inputs(x, SHAPE)
    net = train_own_net(inputs, y, image_shape=SHAPE, seed=0, epochs=1)
    reps = penultimate(net, inputs, input_shape=SHAPE)
    assert reps.shape == (len(y), 32 * 2 * 2)
    report = detect_backdoor(x, y, image_shape=SHAPE, model=net, score="spectral")
    assert report.metrics["representation"] == "user model"
    assert report.metrics["score"] == "spectral"


def test_que_separates_a_planted_cluster_more_than_noise() -> None:
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(300, 20))
    planted = np.vstack([clean, rng.normal(size=(30, 20)) + 12.0 * np.eye(20)[0]])
    rows = np.arange(len(planted))
    poisoned = class_split(planted, rows, 0, score="que", components=8, alpha=4.0, seed=0)
    plain = class_split(clean, rows[:300], 1, score="que", components=8, alpha=4.0, seed=0)
    assert poisoned.separation > plain.separation + 1.0
    assert poisoned.upper[300:].mean() >= 0.9
    assert poisoned.upper[:300].mean() <= 0.05


def test_cutoff_is_a_floor_or_an_outlier_among_classes() -> None:
    assert separation_cutoff([1.0, 9.0], 4.5) == 4.5
    assert separation_cutoff([3.0] * 9 + [8.0], 4.5) == 4.5
    assert separation_cutoff([2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 4.5) > 7.0


def test_model_without_linear_layer_is_a_target_error() -> None:
    x, y, _ = poisoned_digits(0.0)
    with pytest.raises(TargetError, match=r"no nn\.Linear"):
        detect_backdoor(x, y, image_shape=SHAPE, model=torch.nn.Identity())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"score": "magic"}, UsageError, "unknown backdoor score"),
        ({"image_shape": (1, 7, 7)}, DataError, "does not hold 64"),
        ({"components": 0}, UsageError, "must be positive"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs: dict, error: type, match: str) -> None:
    x, y, _ = poisoned_digits(0.0)
    with pytest.raises(error, match=match):
        detect_backdoor(x, y, **kwargs)


def test_bad_data_is_a_data_error() -> None:
    x, y, _ = poisoned_digits(0.0)
    nan = x.copy()
    nan[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        detect_backdoor(nan, y)
    with pytest.raises(DataError, match="class indices"):
        detect_backdoor(x, y.astype(float))
    with pytest.raises(DataError, match="two classes"):
        detect_backdoor(x, np.zeros(len(y), dtype=int))
    with pytest.raises(DataError, match="labels"):
        detect_backdoor(x, y[:-1])


@pytest.mark.slow
def test_poison_near_half_of_its_class_is_found_whole() -> None:
    torch.set_num_threads(1)
    x, y, bad = poisoned_digits(0.08, seed=1)  # 144 poisoned rows in a class of 322
    report = detect_backdoor(x, y, image_shape=SHAPE, seed=0, epochs=6)
    flagged = flagged_mask([f.row for f in report.flags], len(y))
    assert (flagged & bad).sum() / bad.sum() >= 0.95
    assert (flagged & ~bad).sum() <= 3
    zero = report.metrics["per_class"]["0"]
    assert zero["refined_separation"] >= report.metrics["refined_separation_cutoff"]
