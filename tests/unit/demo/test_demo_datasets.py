"""Bundled demo datasets: shapes, ranges, encodings, and no network access while loading."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from redwatch.demo.datasets import load_credit_default, load_digits_01, load_mnist5k


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a demo loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_credit_default_is_encoded() -> None:
    x, y = load_credit_default()
    assert x.shape == (10_000, 3)
    assert list(x.columns) == ["student", "balance", "income"]
    assert set(np.unique(x["student"])) == {0, 1}
    assert set(np.unique(y)) == {0, 1}
    assert 0.02 < y.mean() < 0.05  # about 3.3 % default in ISLR
    assert x["balance"].min() >= 0


@pytest.mark.usefixtures("no_network")
def test_digits_scaled_to_unit_box() -> None:
    x, y = load_digits_01()
    assert x.shape == (1797, 64)
    assert x.min() == 0.0
    assert x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


@pytest.mark.usefixtures("no_network")
def test_mnist5k_scaled_and_balanced() -> None:
    x, y = load_mnist5k()
    assert x.shape == (5000, 784)
    assert x.dtype == np.float64
    assert x.min() == 0.0
    assert x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    x[0, 0] = 7.0  # callers get a copy; the cached data is untouched
    assert load_mnist5k()[0][0, 0] == 0.0
