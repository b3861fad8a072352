"""Universal perturbation on a real MNIST CNN: beats random noise of the same size on unseen
images, stays in the ε-ball and on the mask, stops cleanly on a spent budget."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from redwatch.attacks.uap import fooling_rate, random_sign_delta, uap
from redwatch.demo.models import train_mnist_cnn
from redwatch.exceptions import ProbeError, QueryBudgetExceeded


@dataclass
class Net:
    predict: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    x_train: np.ndarray
    y_train: np.ndarray
    x_held: np.ndarray
    y_held: np.ndarray


@pytest.fixture(scope="module")
def cnn() -> Net:
    """Demo CNN trained for two epochs; 200 correct test images to train on, 400 held out."""
    demo = train_mnist_cnn(seed=0, epochs=2, threads=1)
    net = demo.model

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()

    def grad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(x, dtype=torch.float32).requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(net(t), torch.as_tensor(y), reduction="sum")
        (g,) = torch.autograd.grad(loss, t)
        return g.numpy().astype(np.float64)

    ok = predict(demo.x_test) == demo.y_test
    x, y = demo.x_test[ok], demo.y_test[ok]
    return Net(predict, grad, x[:200], y[:200], x[200:600], y[200:600])


def _budgeted(fn: Callable[..., np.ndarray], budget: int) -> Callable[..., np.ndarray]:
    spent = [0]

    def call(x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        if spent[0] + len(x) > budget:
            raise QueryBudgetExceeded("spent")
        spent[0] += len(x)
        return fn(x, *rest)

    return call


def test_uap_fools_unseen_images_far_more_than_random_noise(cnn: Net) -> None:
    result = uap(cnn.grad, cnn.predict, cnn.x_train, cnn.y_train, eps=0.2, epochs=10)
    assert result.stopped is None
    assert result.epochs == 10
    assert np.abs(result.delta).max() <= 0.2 + 1e-12
    held = fooling_rate(cnn.predict, cnn.x_held, cnn.y_held, result.delta)
    noise = random_sign_delta(784, 0.2, "inf", None, np.random.default_rng(1))
    assert np.abs(noise).max() == pytest.approx(0.2)
    baseline = fooling_rate(cnn.predict, cnn.x_held, cnn.y_held, noise)
    assert held >= 0.15
    assert held >= 3 * baseline + 0.05
    assert result.train_fooling_rate >= 0.15
    assert result.queries == 10 * 200 + 200  # gradients of every epoch + final predictions


def test_l2_uap_stays_in_the_ball_and_beats_a_random_direction(cnn: Net) -> None:
    result = uap(cnn.grad, cnn.predict, cnn.x_train, cnn.y_train, eps=3.0, norm="2", epochs=5)
    assert np.linalg.norm(result.delta) <= 3.0 + 1e-9
    held = fooling_rate(cnn.predict, cnn.x_held, cnn.y_held, result.delta)
    noise = random_sign_delta(784, 3.0, "2", None, np.random.default_rng(1))
    assert np.linalg.norm(noise) == pytest.approx(3.0)
    assert held >= fooling_rate(cnn.predict, cnn.x_held, cnn.y_held, noise) + 0.1


def test_mask_keeps_frozen_pixels_untouched(cnn: Net) -> None:
    mask = np.zeros(784, dtype=bool)
    mask[:392] = True  # only the top half of the image may change
    result = uap(cnn.grad, cnn.predict, cnn.x_train, cnn.y_train, eps=0.2, epochs=2, mask=mask)
    assert np.all(result.delta[~mask] == 0.0)
    assert np.abs(result.delta[mask]).max() > 0.0


def test_targeted_uap_pushes_unseen_images_toward_the_target(cnn: Net) -> None:
    keep = cnn.y_train != 8
    goal = np.full(int(keep.sum()), 8, dtype=np.int64)
    result = uap(cnn.grad, cnn.predict, cnn.x_train[keep], goal, eps=0.25, epochs=5, targeted=True)
    held = cnn.y_held != 8
    goal_held = np.full(int(held.sum()), 8, dtype=np.int64)
    hit = fooling_rate(cnn.predict, cnn.x_held[held], goal_held, result.delta, targeted=True)
    before = fooling_rate(cnn.predict, cnn.x_held[held], goal_held, result.delta * 0, targeted=True)
    assert before == 0.0
    assert hit >= 0.4


def test_a_spent_budget_or_stop_request_ends_training_cleanly(cnn: Net) -> None:
    grad = _budgeted(cnn.grad, 100)
    result = uap(grad, cnn.predict, cnn.x_train, cnn.y_train, eps=0.2, epochs=5, batch_size=16)
    assert result.stopped == "budget"
    assert result.queries <= 100
    assert result.epochs == 0
    assert np.abs(result.delta).max() <= 0.2 + 1e-12
    calls = iter(range(100))
    stopped = uap(
        cnn.grad, cnn.predict, cnn.x_train, cnn.y_train, eps=0.2, stop=lambda: next(calls) >= 3
    )
    assert stopped.stopped == "time"
    assert stopped.queries == 3 * 16


def test_bad_settings_raise() -> None:
    x, y = np.zeros((4, 784)), np.zeros(4, dtype=np.int64)
    with pytest.raises(ProbeError, match="eps > 0"):
        uap(lambda a, b: a, lambda a: y, x, y, eps=0.0)
    with pytest.raises(ProbeError, match="norm"):
        uap(lambda a, b: a, lambda a: y, x, y, eps=0.1, norm="1")
    with pytest.raises(ProbeError, match="clip box"):
        uap(lambda a, b: a, lambda a: y, x + 2.0, y, eps=0.1)
