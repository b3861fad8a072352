"""EOT adversarial patch on a real MNIST CNN: beats a random patch of the same size over
thousands of fresh transformed views of unseen images; bounds, view counts and budgets hold."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from redwatch.attacks.eot import TransformRanges
from redwatch.attacks.patch import PatchSetup, evaluate_patch, random_patch, train_patch
from redwatch.demo.models import train_mnist_cnn
from redwatch.exceptions import ProbeError, QueryBudgetExceeded

SETUP = PatchSetup((1, 28, 28), size=0.1)


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
    """Demo CNN trained for two epochs; 200 correct test images to train on, 300 held out."""
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
    return Net(predict, grad, x[:200], y[:200], x[200:500], y[200:500])


@pytest.fixture(scope="module")
def trained(cnn: Net) -> np.ndarray:
    result = train_patch(
        cnn.grad, cnn.x_train, cnn.y_train, SETUP, steps=100, rng=np.random.default_rng(0)
    )
    assert result.stopped is None
    assert result.steps == 100
    assert result.queries == 100 * 32
    return result.patch


class Counter:
    """Counts predicted rows and raises QueryBudgetExceeded past a budget."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], budget: int | None = None) -> None:
        self.fn, self.budget, self.rows = fn, budget, 0

    def __call__(self, x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        if self.budget is not None and self.rows + len(x) > self.budget:
            raise QueryBudgetExceeded("spent")
        self.rows += len(x)
        return self.fn(x, *rest)


def test_trained_patch_beats_a_random_patch_over_2000_unseen_views(
    cnn: Net, trained: np.ndarray
) -> None:
    assert trained.shape == (1, SETUP.side, SETUP.side)
    assert trained.min() >= 0.0
    assert trained.max() <= 1.0
    predict = Counter(cnn.predict)
    ev = evaluate_patch(
        predict, trained, cnn.x_held, cnn.y_held, SETUP, views=2000, rng=np.random.default_rng(9)
    )
    control = evaluate_patch(
        cnn.predict,
        random_patch(SETUP, np.random.default_rng(1)),
        cnn.x_held,
        cnn.y_held,
        SETUP,
        views=2000,
        rng=np.random.default_rng(9),
    )
    assert ev.views >= 2000
    assert predict.rows == ev.views
    assert ev.images == 300
    assert ev.success_rate >= control.success_rate + 0.1
    assert ev.success_rate == pytest.approx(ev.successes / ev.views)


def test_evaluation_is_reproducible_and_examples_really_fool_the_model(
    cnn: Net, trained: np.ndarray
) -> None:
    a = evaluate_patch(
        cnn.predict, trained, cnn.x_held, cnn.y_held, SETUP, views=700, rng=np.random.default_rng(4)
    )
    b = evaluate_patch(
        cnn.predict, trained, cnn.x_held, cnn.y_held, SETUP, views=700, rng=np.random.default_rng(4)
    )
    assert a.successes == b.successes
    assert a.views == 900  # 300 images x ceil(700 / 300) views, each image equally often
    assert len(a.examples) == 8
    assert a.examples.min() >= 0.0
    assert a.examples.max() <= 1.0
    assert np.all(cnn.predict(a.examples) == a.example_pred)
    assert np.all(a.example_pred != cnn.y_held[a.example_rows])


def test_targeted_patch_raises_the_target_class_rate(cnn: Net) -> None:
    goal = 8
    keep, held = cnn.y_train != goal, cnn.y_held != goal
    big = PatchSetup((1, 28, 28), size=0.2)
    result = train_patch(
        cnn.grad,
        cnn.x_train[keep],
        np.full(int(keep.sum()), goal),
        big,
        steps=100,
        targeted=True,
        rng=np.random.default_rng(0),
    )
    y_goal = np.full(int(held.sum()), goal)
    args = (cnn.x_held[held], y_goal, big)
    hit = evaluate_patch(cnn.predict, result.patch, *args, views=600, targeted=True)
    base = evaluate_patch(
        cnn.predict, random_patch(big, np.random.default_rng(1)), *args, views=600, targeted=True
    )
    assert hit.success_rate >= base.success_rate + 0.1


def test_budgets_stop_training_and_evaluation_cleanly(cnn: Net) -> None:
    grad = Counter(cnn.grad, budget=100)  # type: ignore[arg-type]
    result = train_patch(grad, cnn.x_train, cnn.y_train, SETUP, steps=50, rng=None)  # type: ignore[arg-type]
    assert result.stopped == "budget"
    assert result.steps == 3
    assert result.queries == grad.rows == 96
    assert result.patch.min() >= 0.0
    assert result.patch.max() <= 1.0
    predict = Counter(cnn.predict, budget=500)
    ev = evaluate_patch(predict, result.patch, cnn.x_held, cnn.y_held, SETUP, views=2000)
    assert ev.stopped == "budget"
    assert ev.views == predict.rows == 256
    stop_after = iter(range(100))
    timed = train_patch(
        cnn.grad, cnn.x_train, cnn.y_train, SETUP, steps=50, stop=lambda: next(stop_after) >= 2
    )
    assert timed.stopped == "time"
    assert timed.steps == 2


def test_bad_geometry_and_settings_raise(cnn: Net) -> None:
    with pytest.raises(ProbeError, match="does not match"):
        train_patch(cnn.grad, cnn.x_train[:, :100], cnn.y_train, SETUP, steps=1)
    with pytest.raises(ProbeError, match="rotation"):
        PatchSetup((1, 28, 28), ranges=TransformRanges(rotation=-1.0)).sampler()
    with pytest.raises(ProbeError, match="views"):
        evaluate_patch(cnn.predict, np.zeros((1, 9, 9)), cnn.x_held, cnn.y_held, SETUP, views=0)
