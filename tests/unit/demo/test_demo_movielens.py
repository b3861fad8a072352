"""MovieLens-100k from the recbole package files: shape, columns, no network, and a one-line
DataError naming the install command when recbole is missing."""

from __future__ import annotations

import socket
from importlib import metadata

import pytest

from redwatch.demo import movielens
from redwatch.exceptions import DataError


def test_ratings_shape_and_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the MovieLens loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    frame = movielens.load_movielens_100k()
    assert frame.shape == (100_000, 4)
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert frame["user"].nunique() == 943
    assert frame["item"].nunique() == 1682
    assert set(frame["rating"].unique()) == {1, 2, 3, 4, 5}
    assert frame.groupby("user").size().min() >= 20


def test_returns_a_copy() -> None:
    first = movielens.load_movielens_100k()
    first.loc[0, "rating"] = 99
    assert movielens.load_movielens_100k().loc[0, "rating"] != 99


def test_missing_recbole_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", absent)
    with pytest.raises(DataError, match=r"pip install --no-deps recbole==1\.2\.1"):
        movielens.movielens_path()
