"""Stratified bootstrap: rows stay in their group, results are seeded, and the intervals
cover the true gap at about the nominal rate."""

import numpy as np

from redwatch.fairness.bootstrap import interval, replicate_disparities, resample_rows
from redwatch.fairness.rates import Outcomes


def test_resampled_rows_stay_in_their_group() -> None:
    codes = np.repeat([0, 1, 2], [5, 50, 7])
    rows = resample_rows(codes, 40, np.random.default_rng(0))
    assert rows.shape == (40, 62)
    assert (codes[rows] == codes[None, :]).all()
    assert len(np.unique(rows[:, codes == 1])) > 30  # drawn with replacement, not copied


def test_same_seed_same_interval_other_seed_other() -> None:
    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 2, 600), rng.integers(0, 2, 600)
    codes = rng.integers(0, 2, 600)
    out = Outcomes.of(y, pred, 1)
    a = replicate_disparities(out, codes, 2, 100, seed=5)
    b = replicate_disparities(out, codes, 2, 100, seed=5)
    c = replicate_disparities(out, codes, 2, 100, seed=6)
    np.testing.assert_array_equal(a["dp_ratio"], b["dp_ratio"])
    assert not np.array_equal(a["dp_ratio"], c["dp_ratio"])


def test_interval_covers_the_true_gap_near_nominal_rate() -> None:
    """Two groups selected at 0.5 and 0.4: the 95% interval of the difference should hold
    0.1 in roughly 95% of 120 independent samples."""
    rng = np.random.default_rng(7)
    codes = np.repeat([0, 1], [400, 300])
    hits = 0
    for trial in range(120):
        pred = np.where(codes == 0, rng.random(700) < 0.5, rng.random(700) < 0.4).astype(int)
        out = Outcomes.of(np.ones(700, dtype=int), pred, 1)
        low, high = interval(replicate_disparities(out, codes, 2, 200, seed=trial)["dp_difference"])
        hits += low <= 0.1 <= high
    assert 0.88 <= hits / 120 <= 0.99


def test_interval_ignores_undefined_replicates() -> None:
    assert interval(np.array([np.nan, np.nan])) != interval(np.array([0.1, 0.2]))
    low, high = interval(np.array([np.nan, 0.1, 0.2, 0.3]))
    assert 0.1 <= low < high <= 0.3
