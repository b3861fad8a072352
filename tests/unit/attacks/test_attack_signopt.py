"""Sign-OPT (labels only, batched) on digits, breast cancer and the credit GBM."""

from __future__ import annotations

import numpy as np
import pytest
from _attack_models import Metered, cancer, credit, digits

from redwatch.attacks.base import lp_norm
from redwatch.attacks.signopt import signopt
from redwatch.exceptions import ProbeError


def test_finds_small_adversarials_with_exact_capped_accounting() -> None:
    m = digits()
    pred = Metered(m.predict)
    start = signopt(m.predict, m.x, m.y, max_iter=0, rng=np.random.default_rng(0))
    res = signopt(pred, m.x, m.y, max_queries=1500, rng=np.random.default_rng(0))
    assert res.success.all()
    assert np.all(m.predict(res.x_adv) != m.y)
    assert int(res.queries.sum()) == pred.rows
    assert res.queries.max() <= 1500
    assert np.median(res.norms) < 0.7 * np.median(start.norms)
    np.testing.assert_allclose(res.norms, lp_norm(res.x_adv - m.x, "2"))
    # batched: the sign probes of all samples go out in one call
    assert max(pred.batch_sizes) >= 5 * len(m.x)
    assert pred.rows / pred.calls >= 20


def test_eps_mode_stops_early_and_stays_inside() -> None:
    m = digits()
    free = signopt(m.predict, m.x, m.y, max_queries=1500, rng=np.random.default_rng(0))
    eps = float(np.median(free.norms)) * 1.3
    early = signopt(m.predict, m.x, m.y, max_queries=1500, eps=eps, rng=np.random.default_rng(0))
    assert early.queries.sum() < 0.7 * free.queries.sum()
    inside = early.success & (early.norms <= eps)
    assert inside.mean() >= 0.5
    assert np.all(early.queries[inside] < 1500)
    assert np.all(m.predict(early.x_adv[early.success]) != m.y[early.success])


def test_targeted_hits_the_target_from_x_init() -> None:
    m = digits()
    target = np.roll(m.y, 1)
    x_init = np.roll(m.x, 1, axis=0)  # an example of the target class per row
    res = signopt(
        m.predict,
        m.x,
        m.y,
        targeted=True,
        y_target=target,
        x_init=x_init,
        max_queries=1500,
        rng=np.random.default_rng(0),
    )
    assert res.success.mean() >= 0.9
    np.testing.assert_array_equal(m.predict(res.x_adv[res.success]), target[res.success])
    start = np.linalg.norm(x_init - m.x, axis=1)
    assert np.median(res.norms[res.success]) < 0.6 * np.median(start[res.success])


def test_mask_and_box_on_tabular_models() -> None:
    m = cancer()
    mask = np.arange(30) % 2 == 1
    res = signopt(m.predict, m.x, m.y, mask=mask, max_queries=800, rng=np.random.default_rng(0))
    assert res.success.mean() >= 0.9
    np.testing.assert_array_equal(res.x_adv[:, ~mask], m.x[:, ~mask])
    assert res.x_adv.min() >= 0.0
    assert res.x_adv.max() <= 1.0
    proba, xc, yc = credit()
    gbm = signopt(
        lambda v: proba(v).argmax(1), xc, yc, max_queries=600, rng=np.random.default_rng(0)
    )
    assert gbm.success.mean() >= 0.8
    assert np.all(proba(gbm.x_adv[gbm.success]).argmax(1) != yc[gbm.success])


def test_stalled_samples_restart_instead_of_wasting_their_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Sign-OPT only reaches a local minimum of g: a sample that started toward a far class
    # stalls above eps. Restarting it from fresh directions gets more samples within eps
    # than letting it spend the rest of its budget where it is (the former behaviour).
    m = digits()

    def run() -> tuple[float, int]:
        pred = Metered(m.predict)
        res = signopt(pred, m.x, m.y, max_queries=3000, eps=0.6, rng=np.random.default_rng(0))
        assert int(res.queries.sum()) == pred.rows
        assert res.queries.max() <= 3000
        assert np.all(m.predict(res.x_adv[res.success]) != m.y[res.success])
        return float((res.success & (res.norms <= 0.6)).mean()), pred.rows

    restarted, _ = run()
    monkeypatch.setattr("redwatch.attacks.signopt._STALL_ITERS", 10**9)
    stuck, _ = run()
    assert restarted >= stuck + 2.5 / len(m.x)  # at least 3 more samples of 60


@pytest.mark.parametrize("budget", [40, 5_000])  # inside the initialization / main loop
def test_budget_exception_keeps_partial_results(budget: int) -> None:
    m = digits()
    pred = Metered(m.predict, budget=budget)
    res = signopt(pred, m.x, m.y, max_queries=2000, rng=np.random.default_rng(0))
    assert res.stopped == "budget"
    assert int(res.queries.sum()) == pred.rows <= budget
    assert np.all(m.predict(res.x_adv[res.success]) != m.y[res.success])
    np.testing.assert_array_equal(res.x_adv[~res.success], m.x[~res.success])
    if budget > 1000:
        assert res.success.any()


def test_bad_arguments_raise_probe_error() -> None:
    m = digits()
    with pytest.raises(ProbeError):
        signopt(m.predict, m.x, m.y, max_queries=0)
    with pytest.raises(ProbeError, match="y_target"):
        signopt(m.predict, m.x, m.y, targeted=True)
    with pytest.raises(ProbeError, match="x_init"):
        signopt(m.predict, m.x, m.y, x_init=m.x[:3])
