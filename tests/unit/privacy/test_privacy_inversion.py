"""Model-inversion algorithms: the total-variation penalty and its gradient, the seeded
optimiser on a real digits model, and the recognisability measures."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from redwatch.demo.datasets import load_digits_01
from redwatch.demo.models import train_digits_logreg
from redwatch.exceptions import ProbeError
from redwatch.privacy.inversion import (
    InversionSettings,
    class_means,
    correlations,
    invert,
    own_rank,
    tv_penalty,
)

SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    demo = train_digits_logreg(seed=0)
    return demo.x_test, demo.y_test, demo.model


def _loss_grad(model: LogisticRegression):  # type: ignore[no-untyped-def]
    """Cross-entropy and its input gradient of a multinomial logistic regression."""

    def fn(u: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = model.predict_proba(u)
        onehot = np.eye(p.shape[1])[y]
        return -np.log(p[np.arange(len(y)), y]), (p - onehot) @ model.coef_

    return fn


def test_tv_penalty_is_zero_on_flat_images_and_its_gradient_is_exact() -> None:
    flat = np.full((2, 64), 0.3)
    value, grad = tv_penalty(flat, SHAPE)
    assert value.tolist() == [0.0, 0.0]
    assert not grad.any()
    u = np.random.default_rng(0).random((1, 64))
    _, grad = tv_penalty(u, SHAPE)
    h = 1e-6
    for i in (0, 9, 27, 63):
        up, down = u.copy(), u.copy()
        up[0, i] += h
        down[0, i] -= h
        numeric = (tv_penalty(up, SHAPE)[0] - tv_penalty(down, SHAPE)[0]) / (2 * h)
        assert grad[0, i] == pytest.approx(numeric[0], rel=1e-4, abs=1e-8)


def test_inversion_reaches_the_class_inside_the_pixel_range(digits) -> None:  # type: ignore[no-untyped-def]
    x, y, model = digits
    settings = InversionSettings(steps=60, restarts=2)
    inv = invert(_loss_grad(model), np.array([0, 3, 7]), SHAPE, settings, np.random.default_rng(0))
    assert inv.images.shape == (3, 64)
    assert inv.steps_run == 60
    assert inv.images.min() >= 0.0
    assert inv.images.max() <= 1.0
    assert model.predict(inv.images).tolist() == [0, 3, 7]
    means = class_means(x, y, np.arange(10))
    corr = correlations(inv.images, means, x.mean(axis=0))
    assert own_rank(corr, np.array([0, 3, 7])).tolist() == [1, 1, 1]
    again = invert(
        _loss_grad(model), np.array([0, 3, 7]), SHAPE, settings, np.random.default_rng(0)
    )
    assert np.array_equal(inv.images, again.images)  # seeded


def test_the_lowest_objective_restart_wins_and_stop_ends_early(digits) -> None:  # type: ignore[no-untyped-def]
    _, _, model = digits
    settings = InversionSettings(steps=30, restarts=3)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 4

    inv = invert(_loss_grad(model), np.array([5]), SHAPE, settings, np.random.default_rng(1), stop)
    assert inv.steps_run == 4
    loss, _ = _loss_grad(model)(inv.images, np.array([5]))
    tv, _ = tv_penalty(inv.images, SHAPE)
    assert inv.objective.shape == (1,)
    assert np.isfinite(inv.objective).all()
    assert loss[0] + settings.tv_weight * tv[0] < np.log(10)  # better than a blank guess


def test_recognisability_ranks_own_class_first_only_when_it_is_the_closest() -> None:
    x, y = load_digits_01()
    means = class_means(x, y, np.arange(10))
    corr = correlations(means, means, x.mean(axis=0))
    assert own_rank(corr, np.arange(10)).tolist() == [1] * 10
    assert np.diag(corr) == pytest.approx(np.ones(10))
    shifted = own_rank(corr, (np.arange(10) + 1) % 10)
    assert (shifted > 1).all()
    with pytest.raises(ProbeError, match="no image of class 11"):
        class_means(x, y, np.array([11]))


def test_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(ProbeError, match="steps and restarts"):
        InversionSettings(steps=0).check()
    with pytest.raises(ProbeError, match="step_size"):
        InversionSettings(step_size=0.0).check()
    with pytest.raises(ProbeError, match="pixel range"):
        InversionSettings(start=2.0).check()
