"""HopSkipJump (labels only, batched) on digits, breast cancer and the credit GBM."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _attack_models import Metered, cancer, credit, digits

from redwatch.attacks import hopskipjump
from redwatch.attacks.base import lp_norm
from redwatch.exceptions import ProbeError


def test_norms_shrink_from_initialization() -> None:
    m = digits()
    start = hopskipjump(m.predict, m.x, m.y, max_iter=0, rng=np.random.default_rng(0))
    walked = hopskipjump(
        m.predict, m.x, m.y, max_iter=15, max_queries=3000, rng=np.random.default_rng(0)
    )
    assert start.success.all()
    assert walked.success.all()
    assert np.median(walked.norms) < 0.7 * np.median(start.norms)
    assert np.all(m.predict(walked.x_adv) != m.y)
    np.testing.assert_allclose(walked.norms, lp_norm(walked.x_adv - m.x, "2"))


@pytest.mark.parametrize("max_queries", [37, 300, 1000])
def test_query_accounting_is_exact_and_capped(max_queries: int) -> None:
    m = digits()
    pred = Metered(m.predict)
    res = hopskipjump(
        pred, m.x[:20], m.y[:20], max_queries=max_queries, rng=np.random.default_rng(0)
    )
    assert int(res.queries.sum()) == pred.rows
    assert res.queries.max() <= max_queries
    assert res.queries.min() == max_queries  # 50 iterations always use the whole cap here
    assert np.all(m.predict(res.x_adv[res.success]) != m.y[:20][res.success])


def test_batched_across_samples() -> None:
    m = digits()
    pred = Metered(m.predict)
    hopskipjump(pred, m.x, m.y, max_queries=500, rng=np.random.default_rng(0))
    # one sample at a time would need at least one call per sample per stage
    assert pred.calls < len(m.x)
    assert pred.rows / pred.calls >= 5 * len(m.x)
    assert max(pred.batch_sizes) >= len(m.x) * 100  # a gradient stage in one call


def test_eps_stops_samples_early() -> None:
    m = digits()
    free = hopskipjump(m.predict, m.x, m.y, max_queries=2000, rng=np.random.default_rng(0))
    eps = float(np.median(free.norms)) * 1.5
    early = hopskipjump(
        m.predict, m.x, m.y, max_queries=2000, eps=eps, rng=np.random.default_rng(0)
    )
    assert early.queries.sum() < free.queries.sum()
    assert np.mean(early.norms <= eps) >= 0.5


def test_mask_box_and_tabular_gbm() -> None:
    m = cancer()
    mask = np.ones(30, dtype=bool)
    mask[::2] = False
    res = hopskipjump(m.predict, m.x, m.y, mask=mask, max_queries=800, rng=np.random.default_rng(0))
    assert res.success.mean() >= 0.9
    np.testing.assert_array_equal(res.x_adv[:, ~mask], m.x[:, ~mask])
    assert res.x_adv.min() >= 0.0
    assert res.x_adv.max() <= 1.0
    proba, xc, yc = credit()
    gbm = hopskipjump(
        lambda v: proba(v).argmax(1), xc, yc, max_queries=800, rng=np.random.default_rng(0)
    )
    assert gbm.success.mean() >= 0.9
    assert np.all(proba(gbm.x_adv[gbm.success]).argmax(1) != yc[gbm.success])


def test_targeted_with_x_init_and_linf() -> None:
    m = digits()
    target = np.roll(m.y, 1)
    res = hopskipjump(
        m.predict,
        m.x,
        target,
        targeted=True,
        x_init=np.roll(m.x, 1, axis=0),
        max_queries=1000,
        rng=np.random.default_rng(0),
    )
    assert res.success.mean() >= 0.9
    np.testing.assert_array_equal(m.predict(res.x_adv[res.success]), target[res.success])
    start_dist = np.linalg.norm(np.roll(m.x, 1, axis=0) - m.x, axis=1)
    assert np.median(res.norms) < 0.5 * np.median(start_dist)
    linf = hopskipjump(
        m.predict, m.x, m.y, norm="inf", max_queries=1000, rng=np.random.default_rng(0)
    )
    assert linf.success.mean() >= 0.9
    np.testing.assert_allclose(linf.norms, np.abs(linf.x_adv - m.x).max(axis=1))


@pytest.mark.parametrize("budget", [150, 20_000])  # inside the initialization / main loop
def test_budget_exception_keeps_partial_results(budget: int) -> None:
    m = digits()
    pred = Metered(m.predict, budget=budget)
    res = hopskipjump(pred, m.x, m.y, max_queries=5000, rng=np.random.default_rng(0))
    assert res.stopped == "budget"
    assert res.success.any()
    assert np.all(m.predict(res.x_adv[res.success]) != m.y[res.success])
    np.testing.assert_array_equal(res.x_adv[~res.success], m.x[~res.success])
    assert int(res.queries.sum()) == pred.rows


def test_bad_arguments_raise_probe_error() -> None:
    m = digits()
    with pytest.raises(ProbeError):
        hopskipjump(m.predict, m.x, m.y, max_queries=0)
    with pytest.raises(ProbeError, match="x_init"):
        hopskipjump(m.predict, m.x, m.y, x_init=m.x[:3])


def test_large_probe_batches_are_split_in_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    m = digits()
    # the package attribute `hopskipjump` is the function, so reach the module itself
    hsj_module = sys.modules["redwatch.attacks.hopskipjump"]
    monkeypatch.setattr(hsj_module, "_MAX_ELEMENTS", 64 * 250)  # ~250 probe rows per call
    pred = Metered(m.predict)
    res = hopskipjump(pred, m.x[:12], m.y[:12], max_queries=400, rng=np.random.default_rng(0))
    assert max(pred.batch_sizes) <= 250 + 100
    assert int(res.queries.sum()) == pred.rows
    assert res.success.all()
    assert np.all(m.predict(res.x_adv) != m.y[:12])
