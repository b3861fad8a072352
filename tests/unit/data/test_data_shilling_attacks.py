"""Seeded shilling-profile injection: sizes, target ratings, bandwagon items, the time burst,
determinism, and bad specs refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from redwatch.data.shilling_attacks import AttackSpec, inject_attack
from redwatch.demo.movielens import load_movielens_100k
from redwatch.exceptions import UsageError


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return load_movielens_100k()


def _fakes(frame: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    return frame[frame["user"].isin(ids)]


@pytest.mark.parametrize("kind", ["random", "average", "bandwagon"])
def test_sizes_and_target(ratings: pd.DataFrame, kind: str) -> None:
    out = inject_attack(ratings, AttackSpec(kind, attack_size=0.03, filler_size=0.02, seed=3))
    assert len(out.fake_users) == round(0.03 * 943)
    assert not np.isin(out.fake_users, ratings["user"]).any()
    assert out.frame.iloc[: len(ratings)].equals(ratings)
    fakes = _fakes(out.frame, out.fake_users)
    per_user = fakes.groupby("user").size()
    extra = 1 + (3 if kind == "bandwagon" else 0)
    assert (per_user == round(0.02 * 1682) + extra).all()
    on_target = fakes[fakes["item"] == out.target]
    assert len(on_target) == len(out.fake_users)
    assert (on_target["rating"] == 5).all()
    assert fakes["rating"].between(1, 5).all()
    assert ratings[ratings["item"] == out.target]["rating"].mean() < ratings["rating"].mean()


def test_bandwagon_rates_the_most_popular_items_high(ratings: pd.DataFrame) -> None:
    out = inject_attack(ratings, AttackSpec("bandwagon", push=False, seed=1))
    popular = ratings["item"].value_counts().index[:3]
    fakes = _fakes(out.frame, out.fake_users)
    assert (fakes[fakes["item"].isin(popular)]["rating"] == 5).all()
    assert (fakes[fakes["item"] == out.target]["rating"] == 1).all()


def test_average_filler_follows_item_means(ratings: pd.DataFrame) -> None:
    out = inject_attack(ratings, AttackSpec("average", attack_size=0.05, filler_size=0.05))
    fakes = _fakes(out.frame, out.fake_users)
    filler = fakes[fakes["item"] != out.target]
    means = ratings.groupby("item")["rating"].mean()
    corr = np.corrcoef(filler["rating"], means.loc[filler["item"]].to_numpy())[0, 1]
    assert corr > 0.3


def test_burst_and_determinism(ratings: pd.DataFrame) -> None:
    spec = AttackSpec("random", burst_seconds=86_400, session_seconds=600, seed=5)
    one, two = inject_attack(ratings, spec), inject_attack(ratings, spec)
    assert one.frame.equals(two.frame)
    assert one.target == two.target
    times = _fakes(one.frame, one.fake_users)["timestamp"]
    assert times.max() - times.min() < 86_400 + 600
    other = inject_attack(ratings, AttackSpec("random", seed=6))
    assert not other.frame.equals(one.frame)


@pytest.mark.parametrize(
    "spec",
    [AttackSpec("sybil"), AttackSpec("random", attack_size=0), AttackSpec("random", target=99999)],
)
def test_bad_specs_are_usage_errors(ratings: pd.DataFrame, spec: AttackSpec) -> None:
    with pytest.raises(UsageError):
        inject_attack(ratings, spec)
