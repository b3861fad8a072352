"""CE and DLR losses: numpy formulas, the scikit-learn analytic gradients and torch autograd,
checked against finite differences, against predict_proba and against each other."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from redwatch.attacks.losses import logit_loss
from redwatch.exceptions import ProbeError, QueryBudgetExceeded
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.sklearn_target import SklearnTarget, _logit_view
from redwatch.targets.torch_target import TorchTarget

CASES = [("ce", False), ("dlr", False), ("ce", True), ("dlr", True)]


def _fd_rows(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Central finite differences of a per-row function f: (n, d) -> (n,)."""
    grad = np.zeros_like(x)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        grad[:, j] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


def _targets(y: np.ndarray, k: int) -> np.ndarray:
    return (y + 1) % k


@pytest.mark.parametrize(("loss", "targeted"), CASES)
def test_logit_loss_gradient_matches_finite_differences(loss: str, targeted: bool) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(12, 6)) * 3
    y = rng.integers(0, 6, size=12)
    t = _targets(y, 6) if targeted else None
    values, grad = logit_loss(z, y, loss, t)
    assert values.shape == (12,)
    np.testing.assert_allclose(grad, _fd_rows(lambda v: logit_loss(v, y, loss, t)[0], z), atol=1e-6)


def test_dlr_sign_says_whether_the_label_is_wrong_and_ignores_scale() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(50, 10))
    y = rng.integers(0, 10, size=50)
    values, _ = logit_loss(z, y, "dlr")
    np.testing.assert_array_equal(values > 0, z.argmax(1) != y)
    np.testing.assert_allclose(logit_loss(z * 1000 + 7, y, "dlr")[0], values, rtol=1e-9)


def test_dlr_needs_enough_classes_and_unknown_losses_fail() -> None:
    z = np.zeros((2, 3))
    y = np.array([0, 1])
    with pytest.raises(ProbeError, match="at least 4 classes"):
        logit_loss(z, y, "dlr", np.array([1, 2]))
    with pytest.raises(ProbeError, match="at least 3 classes"):
        logit_loss(np.zeros((2, 2)), y, "dlr")
    with pytest.raises(ProbeError, match="unknown attack loss"):
        logit_loss(z, y, "hinge")


def _digits_target() -> tuple[SklearnTarget, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    model = make_pipeline(MinMaxScaler(clip=True), LogisticRegression(max_iter=500))
    model.fit(x[:800], y[:800])
    return SklearnTarget(model, name="digits"), x[800:812] + 0.3, y[800:812]


def _cancer_target() -> tuple[SklearnTarget, np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    return SklearnTarget(model, name="cancer"), x[:12], y[:12]


@pytest.mark.parametrize(("loss", "targeted"), CASES)
def test_sklearn_values_follow_predict_proba_and_gradients_finite_differences(
    loss: str, targeted: bool
) -> None:
    target, x, y = _digits_target()
    t = _targets(y, 10) if targeted else None
    values, grad = target.loss_value_and_gradient(x, y, loss, t)
    # the values equal the loss computed from the model's own probabilities
    logp = np.log(target.estimator.predict_proba(x))
    np.testing.assert_allclose(values, logit_loss(logp, y, loss, t)[0], rtol=1e-7, atol=1e-9)

    def f(v: np.ndarray) -> np.ndarray:
        return logit_loss(np.log(target.estimator.predict_proba(v)), y, loss, t)[0]

    np.testing.assert_allclose(grad, _fd_rows(f, x, h=1e-4), rtol=1e-4, atol=1e-6)


def test_sklearn_binary_ce_equals_loss_gradient_and_dlr_is_refused() -> None:
    target, x, y = _cancer_target()
    values, grad = target.loss_value_and_gradient(x, y, "ce")
    np.testing.assert_allclose(grad, target.loss_gradient(x, y), rtol=1e-10, atol=1e-12)
    proba = target.predict_proba(x)
    np.testing.assert_allclose(values, -np.log(proba[np.arange(len(y)), y]), rtol=1e-6)
    with pytest.raises(ProbeError, match="at least 3 classes"):
        target.loss_value_and_gradient(x, y, "dlr")


def test_one_vs_rest_logit_view_chains_correctly() -> None:
    rng = np.random.default_rng(2)
    model = SimpleNamespace(
        coef_=rng.normal(size=(5, 4)), intercept_=rng.normal(size=5), multi_class="ovr"
    )
    z = rng.normal(size=(7, 4))
    y = rng.integers(0, 5, size=7)
    u, back = _logit_view(model, z)
    s = 1 / (1 + np.exp(-(z @ model.coef_.T + model.intercept_)))
    np.testing.assert_allclose(np.exp(u), s / s.sum(1, keepdims=True), rtol=1e-10)
    for loss in ("ce", "dlr"):
        grad = back(logit_loss(u, y, loss)[1])

        def f(v: np.ndarray, loss: str = loss) -> np.ndarray:
            return logit_loss(_logit_view(model, v)[0], y, loss)[0]

        np.testing.assert_allclose(grad, _fd_rows(f, z), rtol=1e-5, atol=1e-7)


def _linear_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(8, 5)


@pytest.mark.parametrize(("loss", "targeted"), CASES)
def test_torch_autograd_matches_the_numpy_formulas(loss: str, targeted: bool) -> None:
    net = _linear_net()
    target = TorchTarget(net, input_shape=(8,), batch_size=4)  # several batches
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(10, 8))
    y = rng.integers(0, 5, size=10)
    t = _targets(y, 5) if targeted else None
    values, grad = target.loss_value_and_gradient(x, y, loss, t)
    w = net.weight.detach().double().numpy()
    z = x @ w.T + net.bias.detach().double().numpy()
    ref_values, ref_gz = logit_loss(z, y, loss, t)
    np.testing.assert_allclose(values, ref_values, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad, ref_gz @ w, rtol=1e-3, atol=1e-5)
    assert target.queries == 10


def test_torch_probability_outputs_give_the_same_dlr() -> None:
    net = _linear_net()
    soft = torch.nn.Sequential(net, torch.nn.Softmax(dim=1))
    x = np.random.default_rng(4).uniform(size=(6, 8))
    y = np.arange(6) % 5
    a = TorchTarget(net, input_shape=(8,)).loss_value_and_gradient(x, y, "dlr")
    b = TorchTarget(soft, input_shape=(8,), outputs="probabilities").loss_value_and_gradient(
        x, y, "dlr"
    )
    np.testing.assert_allclose(a[0], b[0], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-2, atol=1e-4)


class _CEOnly(Target):
    """A white-box target with only the classic hooks: CE gradient and probabilities."""

    def __init__(self) -> None:
        self.name = "ce-only"
        self.capabilities = Capabilities(scores=True, gradients=True, n_classes=3)
        self.w = np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0]])

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w.T
        e = np.exp(z - z.max(1, keepdims=True))
        return np.asarray(e / e.sum(1, keepdims=True))

    def _loss_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = self._predict_proba(x)
        p[np.arange(len(y)), y] -= 1
        return np.asarray(p @ self.w)


def test_base_fallback_serves_ce_meters_and_refuses_dlr() -> None:
    target = _CEOnly()
    x = np.array([[0.2, 0.4], [1.0, -1.0], [0.0, 0.0]])
    y = np.array([0, 1, 2])
    values, grad = target.loss_value_and_gradient(x, y, "ce", np.array([1, 2, 0]))
    ref_v, ref_g = logit_loss(x @ target.w.T, y, "ce", np.array([1, 2, 0]))
    np.testing.assert_allclose(values, ref_v, rtol=1e-10)
    np.testing.assert_allclose(grad, ref_g @ target.w, rtol=1e-10)
    assert target.queries == 3
    with pytest.raises(ProbeError, match="no DLR loss gradients"):
        target.loss_value_and_gradient(x, y, "dlr")
    with pytest.raises(ProbeError, match="unknown attack loss"):
        target.loss_value_and_gradient(x, y, "kl")
    with target.limit(2), pytest.raises(QueryBudgetExceeded):
        target.loss_value_and_gradient(x, y)
    assert target.queries == 3


def test_targets_without_gradients_say_so() -> None:
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_breast_cancer(return_X_y=True)
    target = SklearnTarget(DecisionTreeClassifier(max_depth=2).fit(x, y))
    with pytest.raises(ProbeError, match="does not expose gradients"):
        target.loss_value_and_gradient(x[:2], y[:2], "dlr")
