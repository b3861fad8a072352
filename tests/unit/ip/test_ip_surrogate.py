"""Surrogates trained from answers: output modes, soft labels by duplication, learners."""

import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from redwatch.exceptions import UsageError
from redwatch.ip.surrogate import (
    expand_soft,
    fit_surrogate,
    label_answers,
    output_modes,
    resolve_learner,
    rounded_answers,
)


@pytest.fixture(scope="module")
def digits_victim() -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    data = load_digits()
    x = data.data / 16.0
    with threadpool_limits(1):
        model = LogisticRegression(max_iter=1000).fit(x[:1000], data.target[:1000])
    return model, x[1000:1600], x[1600:]


def test_label_answers_are_one_hot_of_the_argmax() -> None:
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    assert label_answers(p).tolist() == [[0, 1, 0], [1, 0, 0]]


def test_rounded_answers_keep_a_label_when_everything_rounds_to_zero() -> None:
    p = np.full((1, 20), 0.05)
    p[0, 7] = 0.049
    out = rounded_answers(p, 1)
    assert out.sum() == 1.0
    assert rounded_answers(np.array([[0.64, 0.36]]), 1).tolist() == [[0.6, 0.4]]


def test_output_modes_names() -> None:
    assert list(output_modes()) == ["probabilities", "label", "rounded"]


def test_expand_soft_duplicates_rows_by_class_weight() -> None:
    x = np.array([[1.0], [2.0]])
    rows, labels, weights = expand_soft(x, np.array([[0.75, 0.25], [0.0, 2.0]]))
    assert rows[:, 0].tolist() == [1.0, 1.0, 2.0]
    assert labels.tolist() == [0, 1, 1]
    assert weights.tolist() == [0.75, 0.25, 1.0]
    with pytest.raises(UsageError):
        expand_soft(x, np.ones(2))


@pytest.mark.parametrize("learner", ["mlp", "gbm"])
def test_surrogate_imitates_the_victim(digits_victim, learner: str) -> None:  # type: ignore[no-untyped-def]
    model, queries, held = digits_victim
    s = fit_surrogate(queries, model.predict_proba(queries), learner=learner, max_iter=40)
    fidelity = np.mean(s.predict(held) == model.predict(held))
    assert fidelity > 0.85


def test_soft_labels_beat_top1_labels_with_few_queries(digits_victim) -> None:  # type: ignore[no-untyped-def]
    model, queries, held = digits_victim
    q = queries[:100]
    p = model.predict_proba(q)
    target = model.predict(held)
    soft = np.mean(fit_surrogate(q, p, seed=0).predict(held) == target)
    hard = np.mean(fit_surrogate(q, label_answers(p), seed=0).predict(held) == target)
    assert soft > hard


def test_one_class_answers_give_a_constant_surrogate() -> None:
    x = np.random.default_rng(0).random((10, 3))
    s = fit_surrogate(x, label_answers(np.tile([0.1, 0.9], (10, 1))))
    assert s.predict(x).tolist() == [1] * 10


def test_bad_learner_and_empty_queries_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="learner"):
        fit_surrogate(np.ones((2, 2)), np.eye(2), learner="svm")
    with pytest.raises(UsageError, match="non-empty"):
        fit_surrogate(np.zeros((0, 2)), np.zeros((0, 2)))


def test_auto_learner_is_a_cnn_for_images_and_an_mlp_for_tables() -> None:
    assert resolve_learner("auto", (1, 8, 8)) == ("cnn", None)
    assert resolve_learner("auto", None) == ("mlp", None)
    assert resolve_learner("gbm", (1, 8, 8)) == ("gbm", None)
    with pytest.raises(UsageError, match="image"):
        resolve_learner("cnn", None)


def test_cnn_falls_back_to_the_mlp_with_a_note_without_torch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    learner, note = resolve_learner("auto", (1, 2, 2))
    assert learner == "mlp"
    assert note is not None
    assert "torch is not installed" in note
    x = np.random.default_rng(0).random((30, 4))
    p = np.column_stack([x[:, 0], 1 - x[:, 0]])
    assert fit_surrogate(x, p, image_shape=(1, 2, 2)).scaler is not None  # the MLP's


def test_cnn_rejects_an_image_shape_that_does_not_fit_the_rows() -> None:
    with pytest.raises(UsageError, match="does not fit"):
        fit_surrogate(np.zeros((4, 10)), np.eye(2)[[0, 1, 0, 1]], image_shape=(1, 3, 3))


@pytest.mark.slow
def test_cnn_surrogate_beats_the_mlp_on_an_image_model() -> None:
    import torch

    from redwatch.attacks.extraction import resize_images
    from redwatch.demo.datasets import load_digits_01
    from redwatch.demo.models import predict_labels, train_mnist_cnn

    victim = train_mnist_cnn(seed=0, epochs=2, threads=1)
    # cross-domain Knockoff: scikit-learn's 8x8 digits upscaled to MNIST size
    queries = resize_images(load_digits_01()[0][:400], (8, 8), (28, 28))
    with torch.no_grad():
        logits = victim.model(torch.as_tensor(queries, dtype=torch.float32))
    proba = torch.softmax(logits, dim=1).numpy().astype(np.float64)
    held = victim.x_test[:400]
    target = predict_labels(victim.model, held)
    fidelity = {
        learner: np.mean(
            fit_surrogate(queries, proba, learner=learner, image_shape=(1, 28, 28)).predict(held)
            == target
        )
        for learner in ("cnn", "mlp")
    }
    assert fidelity["cnn"] > fidelity["mlp"] + 0.1
