"""APGD on real small models: the digits logistic regression (analytic gradients through
SklearnTarget) and a torch MLP (autograd through TorchTarget)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch
from _attack_models import Metered, _digits_demo, digits, mlp, torch_grad, torch_predict

from redwatch.attacks import pgd
from redwatch.attacks.apgd import apgd, checkpoints
from redwatch.attacks.base import lp_norm
from redwatch.exceptions import ProbeError
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.torch_target import TorchTarget

Model = tuple[
    Callable[..., tuple[np.ndarray, np.ndarray]],  # value_grad_fn
    Callable[..., np.ndarray],  # grad_fn for pgd
    Callable[[np.ndarray], np.ndarray],  # predict_fn
    np.ndarray,
    np.ndarray,
]


@cache
def _digits_target() -> SklearnTarget:
    return SklearnTarget(_digits_demo().model, name="digits")


def _model(kind: str) -> Model:
    if kind == "digits":
        m, target = digits(), _digits_target()
        return target.loss_value_and_gradient, m.grad, m.predict, m.x, m.y
    net, x, y = mlp()
    tt = TorchTarget(net, input_shape=(64,), name="mlp")
    return (
        tt.loss_value_and_gradient,
        lambda a, b: torch_grad(net, a, b),
        lambda v: torch_predict(net, v),
        x,
        y,
    )


def test_checkpoints_follow_the_paper() -> None:
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [3, 5, 6, 7, 8, 9]
    assert checkpoints(1) == []


@pytest.mark.parametrize(
    ("kind", "norm", "eps"),
    [("digits", "inf", 0.05), ("digits", "2", 0.5), ("mlp", "inf", 0.05), ("mlp", "2", 0.3)],
)
def test_apgd_is_at_least_as_strong_as_pgd_with_equal_steps(
    kind: str, norm: str, eps: float
) -> None:
    vg, grad, predict, x, y = _model(kind)
    steps = 10
    ours = apgd(vg, predict, x, y, eps=eps, norm=norm, steps=steps, rng=np.random.default_rng(0))
    base = pgd(grad, predict, x, y, eps=eps, norm=norm, steps=steps, rng=np.random.default_rng(0))
    assert 0 < ours.success.mean() < 1  # a partial case, where strength can show
    assert ours.success.mean() >= base.success.mean()
    assert np.all(predict(ours.x_adv[ours.success]) != y[ours.success])


@pytest.mark.parametrize(("norm", "eps", "loss"), [("inf", 0.15, "ce"), ("2", 1.5, "dlr")])
def test_results_stay_in_ball_box_and_mask(norm: str, eps: float, loss: str) -> None:
    vg, _, predict, x, y = _model("digits")
    mask = np.zeros(64, dtype=bool)
    mask[16:48] = True  # only the middle rows of the image may change
    res = apgd(
        vg, predict, x, y, eps=eps, norm=norm, loss=loss, mask=mask, rng=np.random.default_rng(0)
    )
    assert res.success.any()
    assert np.all(lp_norm(res.x_adv - x, norm) <= eps + 1e-9)
    np.testing.assert_allclose(res.norms[res.success], lp_norm(res.x_adv - x, norm)[res.success])
    assert res.x_adv.min() >= 0.0
    assert res.x_adv.max() <= 1.0
    np.testing.assert_array_equal(res.x_adv[:, ~mask], x[:, ~mask])
    np.testing.assert_array_equal(res.x_adv[~res.success], x[~res.success])
    assert np.all(predict(res.x_adv[res.success]) != y[res.success])


@pytest.mark.parametrize(("kind", "loss"), [("digits", "ce"), ("digits", "dlr"), ("mlp", "dlr")])
def test_targeted_hits_the_targets(kind: str, loss: str) -> None:
    vg, _, predict, x, y = _model(kind)
    goal = (y + 1) % 10
    res = apgd(
        vg,
        predict,
        x,
        y,
        eps=0.3,
        steps=40,
        loss=loss,
        targeted=True,
        y_target=goal,
        rng=np.random.default_rng(0),
    )
    assert res.success.mean() >= 0.8
    np.testing.assert_array_equal(predict(res.x_adv[res.success]), goal[res.success])


def test_query_accounting_early_stop_and_restarts_only_for_unfooled() -> None:
    vg, _, predict, x, y = _model("digits")
    vgm, pm = Metered(vg), Metered(predict)
    res = apgd(vgm, pm, x, y, eps=0.04, steps=10, restarts=3, rng=np.random.default_rng(0))
    assert int(res.queries.sum()) == vgm.rows + pm.rows
    assert 0 < res.success.mean() < 1
    # an unfooled sample pays every step of every restart; a fooled one stops early
    assert res.queries[~res.success].min() == 2 * 10 * 3
    assert res.queries[res.success].mean() < 2 * 10 * 3
    assert max(vgm.batch_sizes) <= len(x)


def test_budget_stop_keeps_what_was_found() -> None:
    vg, _, predict, x, y = _model("digits")
    full = apgd(vg, predict, x, y, eps=0.1, steps=20, rng=np.random.default_rng(0))
    vgm, pm = Metered(vg, budget=400), Metered(predict, budget=400)
    res = apgd(vgm, pm, x, y, eps=0.1, steps=20, rng=np.random.default_rng(0))
    assert res.stopped == "budget"
    assert vgm.rows <= 400
    assert pm.rows <= 400
    assert 0 < res.success.sum() <= full.success.sum()
    assert np.all(predict(res.x_adv[res.success]) != y[res.success])
    assert np.all(np.abs(res.x_adv - x).max(axis=1) <= 0.1 + 1e-9)


class _Scaled(torch.nn.Module):
    """Logits × 1000: softmax saturates, so CE gradients vanish in float32."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.net(v) * 1000.0


@pytest.mark.parametrize("backend", ["sklearn", "torch"])
def test_dlr_succeeds_where_cross_entropy_saturates(backend: str) -> None:
    if backend == "sklearn":
        model = copy.deepcopy(_digits_demo().model)
        model.coef_, model.intercept_ = model.coef_ * 1000, model.intercept_ * 1000
        target: SklearnTarget | TorchTarget = SklearnTarget(model, name="digits-x1000")
        x, y = digits().x, digits().y
    else:
        net, x, y = mlp()
        target = TorchTarget(_Scaled(net), input_shape=(64,), name="mlp-x1000")
    rates = {
        loss: apgd(
            target.loss_value_and_gradient,
            target.predict,
            x,
            y,
            eps=1.0,
            norm="2",
            loss=loss,
            steps=20,
            rng=np.random.default_rng(0),
        ).success.mean()
        for loss in ("ce", "dlr")
    }
    assert rates["ce"] <= 0.1
    assert rates["dlr"] >= 0.9


def test_bad_arguments_are_refused() -> None:
    vg, _, predict, x, y = _model("digits")
    with pytest.raises(ProbeError, match="needs y_target"):
        apgd(vg, predict, x, y, eps=0.1, targeted=True)
    with pytest.raises(ProbeError, match="must differ"):
        apgd(vg, predict, x, y, eps=0.1, targeted=True, y_target=y)
    with pytest.raises(ProbeError, match="targeted is False"):
        apgd(vg, predict, x, y, eps=0.1, y_target=(y + 1) % 10)
    with pytest.raises(ProbeError, match="unknown attack loss"):
        apgd(vg, predict, x, y, eps=0.1, loss="hinge")
    with pytest.raises(ProbeError, match="steps"):
        apgd(vg, predict, x, y, eps=0.1, steps=0)
    none = apgd(vg, predict, x, y, eps=0.0, steps=5)
    assert not none.success.any()
    np.testing.assert_array_equal(none.x_adv, x)
