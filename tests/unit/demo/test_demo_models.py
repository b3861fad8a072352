"""Demo models: held-out accuracy, shapes, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from redwatch.demo.models import (
    predict_labels,
    train_credit_gbm,
    train_digits_logreg,
    train_mnist_cnn,
)


def test_credit_gbm_accuracy_and_determinism() -> None:
    a, b = train_credit_gbm(seed=0), train_credit_gbm(seed=0)
    assert a.x_train.shape == (8000, 3)
    assert a.x_test.shape == (2000, 3)
    assert a.feature_names == ("student", "balance", "income")
    assert a.accuracy() >= 0.96  # majority class alone gives about 0.967
    np.testing.assert_array_equal(a.model.predict_proba(a.x_test), b.model.predict_proba(b.x_test))
    # the model ranks defaulters: high balance should raise the predicted risk
    rich = a.model.predict_proba(np.array([[0, 2500.0, 40000.0]]))[0, 1]
    poor = a.model.predict_proba(np.array([[0, 200.0, 40000.0]]))[0, 1]
    assert rich > 0.5 > poor


def test_digits_logreg_accuracy() -> None:
    demo = train_digits_logreg(seed=0)
    assert demo.x_test.shape == (450, 64)
    assert demo.accuracy() >= 0.95
    assert demo.x_train.max() <= 1.0


@pytest.mark.slow
def test_mnist_cnn_accuracy_shapes_and_determinism() -> None:
    torch.set_num_threads(2)
    demo = train_mnist_cnn(seed=0, epochs=4)
    assert demo.x_train.shape == (4000, 784)
    assert demo.x_test.shape == (1000, 784)
    assert demo.accuracy() >= 0.95
    with torch.no_grad():
        flat = demo.model(torch.as_tensor(demo.x_test[:8], dtype=torch.float32))
        image = demo.model(
            torch.as_tensor(demo.x_test[:8].reshape(8, 1, 28, 28), dtype=torch.float32)
        )
    assert flat.shape == (8, 10)
    torch.testing.assert_close(flat, image)
    again = train_mnist_cnn(seed=0, epochs=1)
    once = train_mnist_cnn(seed=0, epochs=1)
    np.testing.assert_array_equal(
        predict_labels(again.model, demo.x_test), predict_labels(once.model, demo.x_test)
    )
