"""ROC figures of membership attacks: AUC against scikit-learn, the low-FPR threshold rule,
exact intervals against scipy, and the log-spaced ROC points."""

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from redwatch.exceptions import UsageError
from redwatch.privacy.roc import (
    auc,
    auc_interval,
    clopper_pearson,
    log_grid,
    roc_points,
    summarize,
    threshold_at,
    tpr_at_fpr,
)


def test_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(0)
    m = np.round(rng.normal(0.5, 1, 300), 1)
    n = np.round(rng.normal(0.0, 1, 400), 1)
    labels = np.r_[np.ones(300), np.zeros(400)]
    assert auc(m, n) == pytest.approx(roc_auc_score(labels, np.r_[m, n]))
    assert auc(np.ones(5), np.ones(5)) == 0.5
    assert auc(np.array([2.0]), np.array([1.0])) == 1.0


def test_auc_interval_brackets_the_estimate_and_narrows_with_more_rows() -> None:
    rng = np.random.default_rng(1)
    small = auc_interval(rng.normal(1, 1, 50), rng.normal(0, 1, 50), rounds=100)
    large = auc_interval(rng.normal(1, 1, 2000), rng.normal(0, 1, 2000), rounds=100)
    assert small[0] < 0.76 < small[1]
    assert large[0] < 0.76 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 3


def test_threshold_keeps_the_false_positive_rate_at_or_below_the_target() -> None:
    non = np.arange(1000.0)
    assert threshold_at(non, 0.001) == 998.0  # one non-member (999) may score above
    assert threshold_at(non, 0.01) == 989.0
    assert threshold_at(np.arange(100.0), 0.001) == 99.0  # too few: above every one
    members = np.array([999.5, 999.0, 998.5, 10.0])
    at = tpr_at_fpr(members, non, 0.001)
    assert (at.hits, at.members, at.achieved_fpr) == (3, 4, 0.001)
    assert at.tpr == 0.75
    with pytest.raises(UsageError):
        threshold_at(non, 0.0)


@pytest.mark.parametrize(("k", "n"), [(0, 50), (3, 200), (50, 50), (17, 40)])
def test_clopper_pearson_matches_scipy(k: int, n: int) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert clopper_pearson(k, n) == pytest.approx((ci.low, ci.high))
    with pytest.raises(UsageError):
        clopper_pearson(5, 3)


def test_roc_points_on_a_log_grid_rise_to_one() -> None:
    rng = np.random.default_rng(2)
    m, n = rng.normal(2, 1, 500), rng.normal(0, 1, 500)
    grid = log_grid(len(n), points=13)
    assert grid[0] == pytest.approx(1 / 500)
    assert grid[-1] == 1.0
    assert np.allclose(np.diff(np.log(grid)), np.log(grid[1] / grid[0]))
    pts = roc_points(m, n, grid)
    fprs, tprs = zip(*pts, strict=True)
    assert all(np.diff(tprs) >= 0)
    assert pts[-1] == (1.0, 1.0)
    assert all(f <= g + 1e-12 for f, g in zip(fprs, grid, strict=True))


def test_summary_reports_auc_tprs_and_points() -> None:
    rng = np.random.default_rng(3)
    s = summarize(rng.normal(3, 1, 2000), rng.normal(0, 1, 2000), rounds=50, points=9)
    d = s.to_dict()
    assert d["auc_ci"][0] < d["auc"] < d["auc_ci"][1]
    assert [a["fpr"] for a in d["tpr_at_fpr"]] == [0.001, 0.01]
    assert s.tpr_at(0.001).low < s.tpr_at(0.001).tpr < s.tpr_at(0.01).tpr
    assert len(d["roc"]) == 9
    with pytest.raises(UsageError):
        s.tpr_at(0.05)
    with pytest.raises(UsageError):
        summarize(np.array([]), np.ones(3))
    with pytest.raises(UsageError):
        summarize(np.array([np.nan]), np.ones(3))
