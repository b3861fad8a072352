"""Shilling detection on MovieLens-100k with seeded attacks: whole fake clusters found, the
target named, clean data left alone, every row of a flagged account flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from redwatch.data.interactions import Interactions, interactions_from_frame
from redwatch.data.shilling import ShillingOptions, detect_shilling, suspicion
from redwatch.data.shilling_attacks import AttackSpec, Injection, inject_attack
from redwatch.data.shilling_features import RatingMatrix, user_features
from redwatch.demo.movielens import load_movielens_100k


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return load_movielens_100k()


def _found(data: Interactions, injection: Injection, opts: ShillingOptions | None = None):  # type: ignore[no-untyped-def]
    report = detect_shilling(data, opts)
    flagged = set(report.metrics["flagged_users"])
    truth = set(injection.fake_users.tolist())
    return report, flagged, truth


@pytest.mark.parametrize("kind", ["random", "average", "bandwagon"])
def test_attack_cluster_is_found(ratings: pd.DataFrame, kind: str) -> None:
    injection = inject_attack(ratings, AttackSpec(kind, attack_size=0.03, seed=2))
    data = interactions_from_frame(injection.frame)
    report, flagged, truth = _found(data, injection)
    assert len(flagged & truth) >= 0.9 * len(truth)
    assert len(flagged - truth) <= 9  # 1 % of 943 genuine accounts
    cluster = report.metrics["clusters"][0]
    assert cluster["targets"][0]["item"] == injection.target
    assert cluster["accounts"] >= 0.9 * len(truth)
    json.dumps(report.metrics)


def test_every_row_of_a_flagged_account_is_flagged(ratings: pd.DataFrame) -> None:
    injection = inject_attack(ratings, AttackSpec("average", attack_size=0.02, seed=4))
    data = interactions_from_frame(injection.frame)
    report, flagged, _ = _found(data, injection)
    rows = {f.row for f in report.flags}
    codes = [np.flatnonzero(data.user_ids == u)[0] for u in flagged]
    expected = set(np.flatnonzero(np.isin(data.users, codes)).tolist())
    assert rows == expected
    assert all(0.0 <= f.score <= 1.0 and "shilling" in f.reasons[0] for f in report.flags)


def test_clean_ratings_flag_nothing(ratings: pd.DataFrame) -> None:
    report = detect_shilling(interactions_from_frame(ratings))
    assert report.flags == ()
    assert report.metrics["clusters"] == []
    assert report.metrics["users"] == 943


def test_attack_spread_over_months_is_still_found(ratings: pd.DataFrame) -> None:
    spec = AttackSpec("random", attack_size=0.03, burst_seconds=150 * 86_400, seed=3)
    injection = inject_attack(ratings, spec)
    _, flagged, truth = _found(interactions_from_frame(injection.frame), injection)
    assert len(flagged & truth) >= 0.9 * len(truth)
    assert len(flagged - truth) <= 9


def test_nuke_attack_is_found(ratings: pd.DataFrame) -> None:
    injection = inject_attack(ratings, AttackSpec("average", push=False, seed=7))
    report, flagged, truth = _found(interactions_from_frame(injection.frame), injection)
    assert len(flagged & truth) >= 0.9 * len(truth)
    assert report.metrics["targets"][0]["rating"] == 1.0


def test_fake_profiles_score_high_on_the_features(ratings: pd.DataFrame) -> None:
    injection = inject_attack(ratings, AttackSpec("random", attack_size=0.05, seed=1))
    data = interactions_from_frame(injection.frame)
    features = user_features(RatingMatrix.of(data))
    fake = np.isin(data.user_ids, injection.fake_users)
    assert set(features) >= {"rdma", "wdma", "wda", "degsim", "length_var", "mean_var"}
    assert all(len(v) == len(data.user_ids) for v in features.values())
    assert np.median(features["rdma"][fake]) > np.quantile(features["rdma"][~fake], 0.9)
    low = features["pca_contribution"]
    assert np.median(low[fake]) < np.median(low[~fake])
    score = suspicion(features)
    assert np.quantile(score[fake], 0.1) > np.quantile(score[~fake], 0.9)
