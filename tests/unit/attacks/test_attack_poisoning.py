"""Poisoning primitives: label flips (random and targeted), triggers (image corner patch,
tabular out-of-range features), BadNets poisoned sets and attack success, on real data."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from redwatch.attacks.poisoning import (
    attack_success,
    backdoor,
    choose_rows,
    flip_random,
    flip_targeted,
    image_trigger,
    poison_count,
    stamp,
    tabular_trigger,
)
from redwatch.exceptions import ProbeError

DIGITS = load_digits()
Y = DIGITS.target
X = DIGITS.data / 16.0


def test_poison_count_rounds_and_keeps_at_least_one_row() -> None:
    assert poison_count(1000, 0.05) == 50
    assert poison_count(30, 0.01) == 1
    assert poison_count(30, 0.0) == 0
    with pytest.raises(ProbeError, match="rate"):
        poison_count(10, 1.0)


def test_choose_rows_is_seeded_distinct_and_capped() -> None:
    a = choose_rows(np.arange(100), 10, np.random.default_rng(3))
    b = choose_rows(np.arange(100), 10, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert len(set(a.tolist())) == 10
    assert np.all(np.diff(a) > 0)
    assert len(choose_rows(np.arange(5), 10)) == 5


def test_random_flips_change_exactly_the_reported_rows_to_another_class() -> None:
    flipped = flip_random(Y, 0.1, 10, np.random.default_rng(0))
    changed = np.flatnonzero(flipped.y != Y)
    assert np.array_equal(changed, flipped.rows)
    assert len(changed) == round(0.1 * len(Y))
    assert flipped.y.min() >= 0
    assert flipped.y.max() <= 9
    assert len(np.unique(flipped.y[flipped.rows])) > 5  # spread over the other classes


def test_targeted_flips_move_source_rows_to_the_target_and_keep_the_class() -> None:
    y = np.array([0] * 10 + [1] * 90)
    flipped = flip_targeted(y, 0.5, 2, source=0, target=1, rng=np.random.default_rng(1))
    assert np.all(y[flipped.rows] == 0)
    assert np.all(flipped.y[flipped.rows] == 1)
    assert len(flipped.rows) == 9  # 50 asked, all but one of the 10 source rows
    assert (flipped.y == 0).sum() == 1
    with pytest.raises(ProbeError, match="two different classes"):
        flip_targeted(y, 0.1, 2, source=1, target=1)
    with pytest.raises(ProbeError, match="class indices"):
        flip_random(np.array([0, 5]), 0.5, 2)


def test_image_trigger_is_the_bottom_right_patch_of_every_channel() -> None:
    trig = image_trigger((1, 8, 8), 2, 1.0)
    assert trig.columns.tolist() == [54, 55, 62, 63]
    rgb = image_trigger((3, 4, 4), 1, 255.0)
    assert rgb.columns.tolist() == [15, 31, 47]
    assert image_trigger((4, 4), 1, 1.0).columns.tolist() == [15]
    with pytest.raises(ProbeError, match="patch size"):
        image_trigger((1, 8, 8), 9, 1.0)
    with pytest.raises(ProbeError, match="image shape"):
        image_trigger((2, 2, 2, 2), 1, 1.0)


def test_tabular_trigger_is_seeded_out_of_range_and_prefers_varied_columns() -> None:
    x = load_breast_cancer().data
    x = np.column_stack([x, np.zeros(len(x))])  # one constant column
    trig = tabular_trigger(x, 3, np.random.default_rng(0))
    again = tabular_trigger(x, 3, np.random.default_rng(0))
    assert np.array_equal(trig.columns, again.columns)
    assert x.shape[1] - 1 not in trig.columns
    assert np.all(trig.values > x.max(axis=0)[trig.columns])
    edge = tabular_trigger(x, 2, np.random.default_rng(0), beyond=0.0)
    assert np.allclose(edge.values, x.max(axis=0)[edge.columns])
    assert "=" in trig.describe()
    assert "columns set to" in image_trigger((1, 8, 8), 3, 1).describe()
    with pytest.raises(ProbeError, match="trigger features"):
        tabular_trigger(x, 0)


def test_backdoor_stamps_and_relabels_only_rows_of_other_classes() -> None:
    trig = image_trigger((1, 8, 8), 2, 1.0)
    poisoned = backdoor(X, Y, 0.05, trig, 7, np.random.default_rng(0))
    assert len(poisoned.rows) == round(0.05 * len(Y))
    assert np.all(Y[poisoned.rows] != 7)
    assert np.all(poisoned.y[poisoned.rows] == 7)
    assert np.all(poisoned.x[poisoned.rows][:, trig.columns] == 1.0)
    untouched = np.setdiff1d(np.arange(len(Y)), poisoned.rows)
    assert np.array_equal(poisoned.x[untouched], X[untouched])
    assert np.array_equal(poisoned.y[untouched], Y[untouched])
    assert np.array_equal(stamp(X[:3], trig)[:, trig.columns], np.ones((3, 4)))
    with pytest.raises(ProbeError, match="do not fit"):
        stamp(X[:, :10], trig)


def test_attack_success_counts_other_class_rows_sent_to_the_target() -> None:
    y_true = np.array([0, 1, 2, 2, 1])
    predicted = np.array([0, 0, 0, 2, 1])
    assert attack_success(predicted, y_true, 0) == pytest.approx(0.5)
    assert attack_success(predicted, np.zeros(5, int), 0) is None
