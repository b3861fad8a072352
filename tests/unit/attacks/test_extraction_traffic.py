"""Extraction traffic generators: Knockoff's random transfer-set queries, the image resize
that maps a transfer set to the victim's layout, and Papernot's Jacobian augmentation
against a real model (scikit-learn digits logistic regression)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from redwatch.attacks.extraction import (
    jacobian_augmentation,
    knockoff_queries,
    resize_images,
)
from redwatch.exceptions import ProbeError


@cache
def _digits() -> tuple[LogisticRegression, np.ndarray]:
    data = load_digits()
    x = data.data / 16.0
    with threadpool_limits(1):  # threaded BLAS only thrashes on a problem this small
        model = LogisticRegression(max_iter=500, random_state=0).fit(x[:1200], data.target[:1200])
    return model, x[1200:]


class _Oracle:
    """The victim's labels, counting every row and call."""

    def __init__(self, model: LogisticRegression) -> None:
        self.model = model
        self.calls: list[int] = []

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.calls.append(len(rows))
        return np.asarray(self.model.predict(rows))


# --- Knockoff -----------------------------------------------------------------------------


def test_knockoff_draws_the_transfer_set_without_replacement_then_reuses_it() -> None:
    pool = np.arange(20, dtype=float).reshape(10, 2)
    first = knockoff_queries(pool, 10, rng=np.random.default_rng(0))
    assert sorted(first[:, 0].tolist()) == sorted(pool[:, 0].tolist())
    assert not np.array_equal(first, pool)  # shuffled
    more = knockoff_queries(pool, 25, rng=np.random.default_rng(0))
    assert more.shape == (25, 2)
    counts = np.unique(more[:, 0], return_counts=True)[1]
    assert counts.min() >= 2
    assert counts.max() <= 3
    again = knockoff_queries(pool, 25, rng=np.random.default_rng(0))
    assert np.array_equal(more, again)
    assert knockoff_queries(pool, 0).shape == (0, 2)


@pytest.mark.parametrize(
    ("pool", "n"), [(np.zeros((0, 3)), 5), (np.zeros(4), 2), (np.ones((3, 2)), -1)]
)
def test_knockoff_rejects_bad_input(pool: np.ndarray, n: int) -> None:
    with pytest.raises(ProbeError):
        knockoff_queries(pool, n)


def test_resize_averages_areas() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((5, 28 * 28))
    small = resize_images(images, (28, 28), (8, 8), crop=4)
    assert small.shape == (5, 64)
    inner = images.reshape(5, 28, 28)[:, 4:24, 4:24]
    # every output pixel covers the same 2.5 x 2.5 area: the mean is kept exactly
    assert np.allclose(small.mean(axis=1), inner.mean(axis=(1, 2)))
    assert np.allclose(resize_images(np.full((1, 16), 0.7), (4, 4), (3, 3)), 0.7)
    blocks = resize_images(np.arange(16.0)[None, :], (4, 4), (2, 2))
    assert blocks.tolist() == [[2.5, 4.5, 10.5, 12.5]]


def test_resize_rejects_bad_shapes() -> None:
    with pytest.raises(ProbeError):
        resize_images(np.zeros((2, 10)), (4, 4), (2, 2))
    with pytest.raises(ProbeError):
        resize_images(np.zeros((2, 16)), (4, 4), (2, 2), crop=2)


# --- Jacobian augmentation ----------------------------------------------------------------


def test_jacobian_rounds_step_from_known_rows_on_a_real_model() -> None:
    model, pool = _digits()
    oracle = _Oracle(model)
    seeds = pool[:10]
    low, high = np.zeros(64), np.ones(64)
    traffic = jacobian_augmentation(oracle, seeds, rounds=4, step=0.1, lower=low, upper=high,
                                    rng=np.random.default_rng(0))  # fmt: skip
    q = traffic.queries
    assert np.allclose(q[:10], seeds)
    assert sum(traffic.rounds) == len(q) == len(traffic.labels) == sum(oracle.calls)
    assert oracle.calls == list(traffic.rounds)  # one batched call per round
    assert traffic.rounds[0] == 10
    assert len(traffic.rounds) == 5
    assert len(q) > 30
    assert np.array_equal(traffic.labels, model.predict(q))
    assert len(np.unique(q, axis=0)) == len(q)  # nothing is sent twice
    assert q.min() >= 0.0
    assert q.max() <= 1.0
    for i in range(10, len(q)):  # every child is one signed step (clipped) from a known row
        diff = np.abs(q[:i] - q[i])
        one_step = np.all((diff < 1e-9) | (np.abs(diff - 0.1) < 1e-9) | (q[i] % 1.0 == 0), 1)
        assert one_step.any()


def test_jacobian_respects_mask_budget_and_seed() -> None:
    model, pool = _digits()
    mask = np.zeros(64, dtype=bool)
    mask[20:40] = True
    kwargs = {"rounds": 6, "step": 0.2, "lower": np.zeros(64), "upper": np.ones(64)}
    a = jacobian_augmentation(_Oracle(model), pool[:8], mask=mask, max_queries=50,
                              rng=np.random.default_rng(1), **kwargs)  # fmt: skip
    assert len(a.queries) == 50
    frozen = ~mask
    assert all(
        np.any(np.all(a.queries[i, frozen] == pool[:8][:, frozen], axis=1)) for i in range(50)
    )
    b = jacobian_augmentation(_Oracle(model), pool[:8], mask=mask, max_queries=50,
                              rng=np.random.default_rng(1), **kwargs)  # fmt: skip
    assert np.array_equal(a.queries, b.queries)


def test_jacobian_periodic_step_and_errors() -> None:
    model, pool = _digits()
    flip = jacobian_augmentation(_Oracle(model), pool[:5], rounds=3, tau=1,
                                 lower=np.zeros(64), upper=np.ones(64))  # fmt: skip
    assert len(flip.queries) > 5
    with pytest.raises(ProbeError):
        jacobian_augmentation(_Oracle(model), pool[:5], step=0.0)
    with pytest.raises(ProbeError):
        jacobian_augmentation(_Oracle(model), pool[:5], mask=np.ones(3, dtype=bool))
    with pytest.raises(ProbeError):
        jacobian_augmentation(_Oracle(model), np.zeros((0, 64)))
