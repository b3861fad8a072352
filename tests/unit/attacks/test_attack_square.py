"""Square Attack on real small models: digits (8x8 image layout) and tabular data (1-D)."""

from __future__ import annotations

import numpy as np
import pytest
from _attack_models import Metered, cancer, credit, digits
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from redwatch.attacks import square
from redwatch.exceptions import ProbeError


def test_fools_digits_within_ball_and_box() -> None:
    m = digits()
    res = square(m.proba, m.x, m.y, eps=0.25, max_queries=500, rng=np.random.default_rng(0))
    assert res.success.mean() >= 0.9
    assert np.all(m.predict(res.x_adv[res.success]) != m.y[res.success])
    assert np.abs(res.x_adv - m.x).max() <= 0.25 + 1e-9
    assert res.x_adv.min() >= 0.0
    assert res.x_adv.max() <= 1.0


def test_early_stop_spends_fewer_queries_on_easy_samples() -> None:
    m = digits()
    proba = Metered(m.proba)
    res = square(proba, m.x, m.y, eps=0.1, max_queries=300, rng=np.random.default_rng(0))
    assert 0 < res.success.mean() < 1
    assert res.queries.max() <= 300
    assert int(res.queries.sum()) == proba.rows
    assert np.all(res.queries[~res.success] == 300)
    assert np.median(res.queries[res.success]) < 150
    # one call per iteration, each carrying every sample still running
    assert proba.calls <= 300
    assert proba.batch_sizes == sorted(proba.batch_sizes, reverse=True)


def test_tabular_windows_respect_mask() -> None:
    m = cancer()
    mask = np.ones(30, dtype=bool)
    mask[:10] = False  # first ten features are immutable
    res = square(
        m.proba, m.x, m.y, eps=0.3, max_queries=400, mask=mask, rng=np.random.default_rng(0)
    )
    assert res.success.mean() >= 0.5
    np.testing.assert_array_equal(res.x_adv[:, ~mask], m.x[:, ~mask])
    assert np.abs(res.x_adv - m.x).max() <= 0.3 + 1e-9


def test_four_features_and_a_gradient_boosted_model() -> None:
    iris = load_iris()
    x = (iris.data - iris.data.min(0)) / np.ptp(iris.data, axis=0)
    model = LogisticRegression(max_iter=1000).fit(x, iris.target)
    ok = model.predict(x) == iris.target
    res = square(
        model.predict_proba,
        x[ok],
        iris.target[ok],
        eps=0.3,
        max_queries=200,
        rng=np.random.default_rng(0),
    )
    assert res.success.mean() >= 0.3
    proba, xc, yc = credit()
    res = square(proba, xc, yc, eps=0.3, max_queries=200, rng=np.random.default_rng(0))
    assert res.success.any()
    assert np.all(proba(res.x_adv[res.success]).argmax(1) != yc[res.success])


def test_targeted_hits_targets() -> None:
    m = digits()
    target = (m.y + 3) % 10
    res = square(
        m.proba, m.x, target, eps=0.3, max_queries=800, targeted=True, rng=np.random.default_rng(0)
    )
    assert res.success.mean() >= 0.5
    np.testing.assert_array_equal(m.predict(res.x_adv[res.success]), target[res.success])


def test_budget_exception_keeps_found_adversarials() -> None:
    m = digits()
    res = square(
        Metered(m.proba, budget=1500),
        m.x,
        m.y,
        eps=0.2,
        max_queries=1000,
        rng=np.random.default_rng(0),
    )
    assert res.stopped == "budget"
    assert res.success.any()
    assert np.all(m.predict(res.x_adv[res.success]) != m.y[res.success])


def test_deterministic_and_validated() -> None:
    m = digits()
    a = square(m.proba, m.x, m.y, eps=0.1, max_queries=50, rng=np.random.default_rng(5))
    b = square(m.proba, m.x, m.y, eps=0.1, max_queries=50, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.x_adv, b.x_adv)
    with pytest.raises(ProbeError, match="norm"):
        square(m.proba, m.x, m.y, eps=0.1, norm="1")
    with pytest.raises(ProbeError, match="image_shape"):
        square(m.proba, m.x, m.y, eps=0.1, image_shape=(3, 8, 8))


@pytest.mark.parametrize("masked", [False, True])
def test_l2_variant_stays_on_the_sphere_and_fools(masked: bool) -> None:
    m = digits() if not masked else cancer()
    mask = None if not masked else np.arange(30) % 3 != 0
    eps = 1.5 if not masked else 1.0
    res = square(
        m.proba,
        m.x,
        m.y,
        eps=eps,
        norm="2",
        max_queries=600,
        mask=mask,
        rng=np.random.default_rng(0),
    )
    assert res.success.mean() >= 0.8
    assert np.all(np.linalg.norm(res.x_adv - m.x, axis=1) <= eps + 1e-9)
    assert np.all(m.predict(res.x_adv[res.success]) != m.y[res.success])
    assert res.x_adv.min() >= 0.0
    assert res.x_adv.max() <= 1.0
    if mask is not None:
        np.testing.assert_array_equal(res.x_adv[:, ~mask], m.x[:, ~mask])


def test_l2_success_grows_with_eps() -> None:
    m = digits()
    rates = [
        square(
            m.proba, m.x, m.y, eps=e, norm="2", max_queries=300, rng=np.random.default_rng(0)
        ).success.mean()
        for e in (0.3, 1.0, 2.0)
    ]
    assert rates[0] < rates[1] <= rates[2]
