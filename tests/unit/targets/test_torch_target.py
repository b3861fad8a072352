"""TorchTarget: batching, reshaping, softmax scores and autograd gradients."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from redwatch.testing.requirements import require

torch = require("torch", "torch")

from redwatch.exceptions import TargetError  # noqa: E402
from redwatch.targets.torch_target import TorchTarget  # noqa: E402


def _cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3),
        torch.nn.Tanh(),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 4 * 4, 4),
    )


def test_scores_reshape_and_lazy_class_count() -> None:
    target = TorchTarget(_cnn(), input_shape=(1, 6, 6), batch_size=7)
    assert target.capabilities.n_classes is None
    x = np.random.default_rng(0).normal(size=(20, 36))
    proba = target.predict_proba(x)
    assert proba.shape == (20, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert target.capabilities.n_classes == 4
    with torch.no_grad():
        logits = target.module(torch.tensor(x, dtype=torch.float32).reshape(20, 1, 6, 6))
    np.testing.assert_allclose(proba, torch.softmax(logits, 1).numpy(), atol=1e-6)
    assert target.queries == 20


def test_gradient_matches_finite_differences() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    target = TorchTarget(net, n_classes=3, batch_size=4)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 5)), rng.integers(0, 3, 6)
    grad = target.loss_gradient(x, y)
    eps = 1e-3
    for j in range(5):
        step = np.zeros(5)
        step[j] = eps
        up = -np.log(target.predict_proba(x + step)[np.arange(6), y])
        down = -np.log(target.predict_proba(x - step)[np.arange(6), y])
        np.testing.assert_allclose(grad[:, j], (up - down) / (2 * eps), rtol=2e-2, atol=2e-4)


def test_probability_outputs_and_errors() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    target = TorchTarget(net, outputs="probabilities")
    x = np.ones((2, 3))
    with torch.no_grad():
        expected = net(torch.ones(2, 3)).numpy()
    np.testing.assert_allclose(target.predict_proba(x), expected, atol=1e-6)
    wrong = TorchTarget(net, input_shape=(4,))
    with pytest.raises(TargetError, match="input_shape"):
        wrong.predict(x)
    assert TorchTarget(_cnn(), input_shape=(1, 6, 6)).ensure_n_classes() == 4


def test_importing_targets_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, redwatch.targets; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
