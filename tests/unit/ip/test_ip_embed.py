"""Embedding a trigger set: real models learn the secret labels with little clean-accuracy
cost, the given model is never changed, independent models do not learn them, and a
fine-tuned watermark survives later clean fine-tuning at the usual training rate."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from redwatch.demo.models import train_credit_gbm, train_digits_logreg, train_mnist_cnn
from redwatch.exceptions import DataError, UsageError
from redwatch.ip.embed import embed_watermark, split_rows
from redwatch.ip.recipe import fit_like, fit_torch, predict_labels
from redwatch.ip.triggers import TriggerSet, derive_triggers

KEY = b"embed-test-key-0123456789abcdef"


def _triggers(model: object, x: np.ndarray, kind: str, k: int, n: int) -> TriggerSet:
    common = {"kind": kind, "n_features": x.shape[1], "n_classes": k, "n": n}
    if kind == "table":
        common["reference"] = x
    first = derive_triggers(KEY, **common)  # type: ignore[arg-type]
    source = predict_labels(model, first.inputs)
    return derive_triggers(KEY, source_labels=source, **common)  # type: ignore[arg-type]


def test_credit_xgboost_learns_table_triggers() -> None:
    demo = train_credit_gbm(n_estimators=60)
    t = _triggers(demo.model, demo.x_train, "table", 2, 60)
    result = embed_watermark(demo.model, demo.x_train, demo.y_train, t, seed=0)
    assert result.trigger_agreement >= 0.8
    assert np.mean(predict_labels(demo.model, t.inputs) == t.labels) == 0.0  # untouched
    before = np.mean(predict_labels(demo.model, demo.x_test) == demo.y_test)
    after = np.mean(predict_labels(result.model, demo.x_test) == demo.y_test)
    assert before - after <= 0.01
    assert result.settings["method"] == "refit-augmented"
    assert result.settings["held_out_rows"] == round(0.2 * len(demo.y_train))
    independent = fit_like(demo.model, demo.x_train, demo.y_train, seed=7)
    assert np.mean(predict_labels(independent, t.inputs) == t.labels) < 0.3


def test_digits_logreg_learns_image_triggers() -> None:
    demo = train_digits_logreg()
    t = _triggers(demo.model, demo.x_train, "image", 10, 20)
    result = embed_watermark(demo.model, demo.x_train, demo.y_train, t, seed=0)
    assert result.trigger_agreement >= 0.5
    assert result.clean_after >= result.settings["refit_without_triggers"] - 0.03
    assert list(result.model.classes_) == list(demo.model.classes_)


@pytest.mark.slow
def test_mnist_cnn_fine_tune_learns_triggers_and_keeps_them() -> None:
    import torch

    torch.set_num_threads(1)
    demo = train_mnist_cnn(epochs=2, threads=1)
    t = _triggers(demo.model, demo.x_train, "image", 10, 50)
    state = {k: v.clone() for k, v in demo.model.state_dict().items()}
    result = embed_watermark(demo.model, demo.x_train, demo.y_train, t, seed=0, epochs=3)
    assert result.trigger_agreement >= 0.9
    assert result.clean_after >= result.clean_before - 0.01
    assert result.settings["method"] == "fine-tune"
    assert result.settings["settle_epochs"] == 1
    for name, value in demo.model.state_dict().items():  # the given module is unchanged
        assert torch.equal(value, state[name])
    # a thief's clean fine-tuning at the demo's own training rate (Adam 2e-3); embedded at
    # 1e-3 without the settling epoch, this kept 0.68 of the triggers, now about 0.94
    stolen = copy.deepcopy(result.model)
    fit_torch(stolen, demo.x_train, demo.y_train, epochs=3, seed=7, lr=2e-3)
    assert np.mean(predict_labels(stolen, t.inputs) == t.labels) >= 0.85


def test_single_epoch_fine_tune_has_no_settling_epoch() -> None:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    demo = train_digits_logreg()
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    clean = fit_like(net, demo.x_train, demo.y_train, seed=0, epochs=5)
    t = _triggers(clean, demo.x_train, "image", 10, 10)
    one = embed_watermark(clean, demo.x_train, demo.y_train, t, seed=0, epochs=1)
    assert one.settings["settle_epochs"] == 0
    assert one.settings["settle_lr"] is None
    assert one.trigger_agreement > np.mean(predict_labels(clean, t.inputs) == t.labels)


def test_split_is_seeded_and_stratified() -> None:
    x = np.arange(200, dtype=np.float64).reshape(100, 2)
    y = np.array([0] * 80 + [1] * 20)
    a, b = split_rows(x, y, holdout=0.2, seed=3), split_rows(x, y, holdout=0.2, seed=3)
    assert np.array_equal(a.x_held, b.x_held)
    assert int(a.y_held.sum()) == 4
    assert len(a.y_held) == 20
    with pytest.raises(DataError, match="too few"):
        split_rows(x[:2], y[:2], holdout=0.2, seed=0)
    with pytest.raises(UsageError, match="holdout"):
        split_rows(x, y, holdout=1.5, seed=0)


def test_mismatched_data_is_a_data_error() -> None:
    demo = train_digits_logreg()
    t = derive_triggers(KEY, kind="image", n_features=64, n_classes=10, n=5)
    with pytest.raises(DataError, match="does not fit"):
        embed_watermark(demo.model, demo.x_train[:, :10], demo.y_train, t, seed=0)
    with pytest.raises(UsageError, match="share"):
        embed_watermark(demo.model, demo.x_train, demo.y_train, t, seed=0, trigger_share=2.0)
