"""PGD on real small models: a digits logistic regression and a torch MLP."""

from __future__ import annotations

import numpy as np
import pytest
from _attack_models import Metered, digits, mlp, torch_grad, torch_predict

from redwatch.attacks import pgd
from redwatch.attacks.base import lp_norm
from redwatch.exceptions import ProbeError


def test_large_eps_fools_most_and_zero_eps_fools_none() -> None:
    m = digits()
    strong = pgd(m.grad, m.predict, m.x, m.y, eps=0.4, rng=np.random.default_rng(0))
    assert strong.success.mean() >= 0.9
    assert np.all(m.predict(strong.x_adv[strong.success]) != m.y[strong.success])
    none = pgd(m.grad, m.predict, m.x, m.y, eps=0.0, rng=np.random.default_rng(0))
    assert not none.success.any()
    np.testing.assert_array_equal(none.x_adv, m.x)


def test_success_grows_with_eps() -> None:
    m = digits()
    rates = [
        pgd(
            m.grad, m.predict, m.x, m.y, eps=e, steps=20, rng=np.random.default_rng(0)
        ).success.mean()
        for e in (0.02, 0.1, 0.3)
    ]
    assert rates[0] <= rates[1] <= rates[2]
    assert rates[2] > rates[0]


@pytest.mark.parametrize(("norm", "eps"), [("inf", 0.15), ("2", 1.5)])
def test_results_stay_in_ball_box_and_mask(norm: str, eps: float) -> None:
    m = digits()
    mask = np.zeros(64, dtype=bool)
    mask[16:48] = True  # only the middle rows of the image may change
    res = pgd(
        m.grad, m.predict, m.x, m.y, eps=eps, norm=norm, mask=mask, rng=np.random.default_rng(0)
    )
    assert res.success.any()
    assert np.all(lp_norm(res.x_adv - m.x, norm) <= eps + 1e-9)
    np.testing.assert_allclose(res.norms[res.success], lp_norm(res.x_adv - m.x, norm)[res.success])
    assert res.x_adv.min() >= 0.0
    assert res.x_adv.max() <= 1.0
    np.testing.assert_array_equal(res.x_adv[:, ~mask], m.x[:, ~mask])


def test_targeted_hits_the_targets() -> None:
    m = digits()
    target = (m.y + 1) % 10
    res = pgd(
        m.grad,
        m.predict,
        m.x,
        target,
        eps=0.5,
        steps=60,
        targeted=True,
        rng=np.random.default_rng(0),
    )
    assert res.success.mean() >= 0.8
    np.testing.assert_array_equal(m.predict(res.x_adv[res.success]), target[res.success])


def test_query_accounting_and_restarts_only_for_unfooled() -> None:
    m = digits()
    grad, pred = Metered(m.grad), Metered(m.predict)
    res = pgd(grad, pred, m.x, m.y, eps=0.12, steps=10, restarts=3, rng=np.random.default_rng(0))
    assert int(res.queries.sum()) == grad.rows + pred.rows
    assert 0 < res.success.mean() < 1
    # a fooled sample stops early; an unfooled one pays for every step of every restart
    assert res.queries[~res.success].min() == 2 * 10 * 3
    assert res.queries[res.success].mean() < 2 * 10 * 3


def test_check_every_spends_fewer_label_queries() -> None:
    m = digits()
    dense_pred, sparse_pred = Metered(m.predict), Metered(m.predict)
    dense = pgd(m.grad, dense_pred, m.x, m.y, eps=0.12, steps=20, rng=np.random.default_rng(0))
    sparse = pgd(
        m.grad,
        sparse_pred,
        m.x,
        m.y,
        eps=0.12,
        steps=20,
        check_every=5,
        rng=np.random.default_rng(0),
    )
    assert sparse_pred.calls <= 4
    assert sparse_pred.rows < dense_pred.rows / 3
    assert abs(sparse.success.mean() - dense.success.mean()) <= 0.1
    assert np.all(m.predict(sparse.x_adv[sparse.success]) != m.y[sparse.success])


def test_budget_exception_returns_partial_results() -> None:
    m = digits()
    pred = Metered(m.predict, budget=300)
    res = pgd(
        m.grad, pred, m.x, m.y, eps=0.15, steps=40, batch_size=16, rng=np.random.default_rng(0)
    )
    assert res.stopped == "budget"
    assert res.success.any()
    assert np.all(m.predict(res.x_adv[res.success]) != m.y[res.success])


def test_torch_mlp_gradients_and_determinism() -> None:
    net, x, y = mlp()

    def run() -> np.ndarray:
        res = pgd(
            lambda a, b: torch_grad(net, a, b),
            lambda a: torch_predict(net, a),
            x,
            y,
            eps=0.25,
            steps=20,
            rng=np.random.default_rng(3),
        )
        assert res.success.mean() >= 0.8
        return res.x_adv

    np.testing.assert_array_equal(run(), run())


def test_invalid_parameters_raise_probe_error() -> None:
    m = digits()
    with pytest.raises(ProbeError):
        pgd(m.grad, m.predict, m.x, m.y, eps=-0.1)
    with pytest.raises(ProbeError):
        pgd(m.grad, m.predict, m.x, m.y, eps=0.1, norm="1")
