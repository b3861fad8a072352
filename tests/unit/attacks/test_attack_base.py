"""Shared attack helpers: projection, norms, margin loss, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from redwatch.attacks.base import (
    check_inputs,
    check_norm,
    finish,
    lp_norm,
    margin_loss,
    project,
    random_in_ball,
)
from redwatch.exceptions import ProbeError, RedwatchError


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_project_lands_in_ball_box_and_mask(norm: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (50, 12))
    mask = np.arange(12) % 3 != 0
    far = x + rng.normal(0, 2, x.shape)
    out = project(far, x, 0.3, norm, mask, (0.0, 1.0))
    assert np.all(lp_norm(out - x, norm) <= 0.3 + 1e-9)
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    np.testing.assert_array_equal(out[:, ~mask], x[:, ~mask])
    # a point already inside stays where it is
    inside = project(out, x, 0.3, norm, mask, (0.0, 1.0))
    np.testing.assert_allclose(inside, out)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_random_in_ball_respects_radius_and_mask(norm: str) -> None:
    mask = np.array([True, False, True, True])
    delta = random_in_ball((500, 4), 0.2, norm, mask, np.random.default_rng(0))
    assert np.all(lp_norm(delta, norm) <= 0.2 + 1e-12)
    assert np.all(delta[:, 1] == 0)
    assert lp_norm(delta, norm).max() > 0.1  # fills the ball, not a point


def test_margin_loss_sign_matches_argmax() -> None:
    rng = np.random.default_rng(2)
    proba = rng.dirichlet(np.ones(5), size=200)
    y = rng.integers(0, 5, 200)
    fooled = proba.argmax(1) != y
    assert np.array_equal(margin_loss(proba, y, targeted=False) < 0, fooled)
    hit = proba.argmax(1) == y
    assert np.array_equal(margin_loss(proba, y, targeted=True) < 0, hit)


def test_norm_names_and_errors() -> None:
    assert check_norm("Linf") == "inf"
    assert check_norm("l2") == "2"
    assert check_norm(2) == "2"  # type: ignore[arg-type]
    with pytest.raises(ProbeError, match="unsupported norm"):
        check_norm("1")


def test_check_inputs_rejects_bad_shapes_and_unscaled_data() -> None:
    x = np.full((3, 4), 0.5)
    with pytest.raises(ProbeError, match="clip box"):
        check_inputs(x * 10, np.zeros(3), None, (0.0, 1.0))
    with pytest.raises(ProbeError, match="labels"):
        check_inputs(x, np.zeros(2), None, (0.0, 1.0))
    with pytest.raises(ProbeError, match="mask"):
        check_inputs(x, np.zeros(3), np.ones(3, bool), (0.0, 1.0))
    with pytest.raises(RedwatchError, match="2-D"):
        check_inputs(x[0], np.zeros(1), None, (0.0, 1.0))


def test_finish_restores_originals_where_no_success() -> None:
    x = np.zeros((2, 3))
    adv = np.full((2, 3), 0.5)
    res = finish(x, adv, np.array([True, False]), np.array([3, 4]), "inf", None)
    np.testing.assert_array_equal(res.x_adv[1], x[1])
    assert res.norms.tolist() == [0.5, 0.0]
    assert res.success_rate == 0.5
