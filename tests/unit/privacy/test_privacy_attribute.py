"""Attribute-inference algorithms: attribute encoding, the weighted scorer against
scikit-learn's metrics, cross-validated attackers, Fredrikson's substitution attack on a
real model, and paired bootstrap advantages."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from redwatch.exceptions import ProbeError
from redwatch.privacy.attribute import (
    Scorer,
    attacker_proba,
    encode_attribute,
    figures,
    fredrikson_proba,
    metric_values,
)


def test_text_and_few_numeric_values_are_categories_missing_is_minus_one() -> None:
    text = encode_attribute(np.array(["M", "F", None, "F", " "], dtype=object))
    assert text.labels == ("F", "M")
    assert text.codes.tolist() == [1, 0, -1, 0, -1]
    assert text.representatives is None
    assert not text.binned
    numbers = encode_attribute(np.array([1.0, 0.0, np.nan, 1.0]))
    assert numbers.labels == ("0", "1")
    assert numbers.codes.tolist() == [1, 0, -1, 1]
    assert numbers.representatives is not None
    assert numbers.representatives.tolist() == [0.0, 1.0]


def test_many_numeric_values_fall_into_quantile_bins_with_medians() -> None:
    values = np.arange(100, dtype=np.float64)
    enc = encode_attribute(values, bins=4)
    assert enc.binned
    assert enc.n_classes == 4
    assert np.bincount(enc.codes).tolist() == [25, 25, 25, 25]
    assert enc.representatives is not None
    assert enc.representatives.tolist() == pytest.approx([12.0, 37.0, 62.0, 87.0], abs=0.6)
    assert enc.labels[0].startswith("[-inf")
    assert enc.labels[-1].endswith("inf)")
    with pytest.raises(ProbeError, match="bins"):
        encode_attribute(values, bins=1)
    with pytest.raises(ProbeError, match="no values"):
        encode_attribute(np.array([None, ""], dtype=object))


def test_scorer_matches_scikit_learn_and_weights_repeat_rows() -> None:
    rng = np.random.default_rng(0)
    for k in (2, 4):
        codes = rng.integers(0, k, 300)
        proba = rng.dirichlet(np.ones(k), 300)
        proba[np.arange(300), codes] += 0.3 * rng.random(300)  # some signal
        proba /= proba.sum(axis=1, keepdims=True)
        acc, bal, auc = metric_values(proba, codes)
        assert acc == pytest.approx(np.mean(proba.argmax(1) == codes))
        assert bal == pytest.approx(balanced_accuracy_score(codes, proba.argmax(1)))
        expected = roc_auc_score(codes, proba[:, 1] if k == 2 else proba, multi_class="ovr")
        assert auc == pytest.approx(expected)
        weights = rng.integers(0, 3, 300)
        rows = np.repeat(np.arange(300), weights)
        weighted = Scorer(proba, codes).prepare().values(weights.astype(float))
        assert weighted == pytest.approx(metric_values(proba[rows], codes[rows]))


def test_attacker_learns_a_planted_attribute_and_without_features_gives_the_prior() -> None:
    x, _ = load_breast_cancer(return_X_y=True)
    codes = (x[:, 0] > np.median(x[:, 0])).astype(np.int64)  # mean radius, above median
    others = x[:, 1:]
    proba = attacker_proba(others, codes, 2, folds=5, seed=0)
    assert proba.shape == (len(x), 2)
    assert metric_values(proba, codes)[2] > 0.9  # radius is written all over the others
    prior = attacker_proba(others[:, :0], codes, 2, folds=5, seed=0)
    assert np.allclose(prior.sum(axis=1), 1.0)
    assert metric_values(prior, codes)[2] == pytest.approx(0.5, abs=0.05)


def test_fredrikson_substitution_recovers_an_input_the_label_depends_on() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 2000)
    noise = rng.normal(size=(2000, 2))
    y = np.where(rng.random(2000) < 0.9, a, 1 - a)  # the label follows the attribute
    x = np.column_stack([a, noise])
    model = LogisticRegression().fit(x, y)
    prior = np.array([0.5, 0.5])
    proba = fredrikson_proba(model.predict_proba, x, y, 0, np.array([0.0, 1.0]), prior)
    assert proba.shape == (2000, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert metric_values(proba, a)[0] == pytest.approx(0.9, abs=0.03)


def test_paired_advantage_is_positive_for_an_informed_attacker_and_zero_for_a_twin() -> None:
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 2, 500)
    blind = np.full((500, 2), 0.5)
    informed = np.column_stack([1 - codes, codes]) * 0.6 + 0.2
    figs = figures(
        {"features": blind, "twin": blind.copy(), "informed": informed},
        codes,
        "features",
        rounds=50,
        seed=0,
    )
    value, low, _ = figs.advantage("informed")
    assert value[2] == pytest.approx(0.5)
    assert low[2] > 0.4
    twin = figs.advantage("twin")
    assert twin[0].tolist() == [0.0, 0.0, 0.0]
    assert twin[1][2] == twin[2][2] == 0.0
    rows = figs.rows()
    assert [r["attacker"] for r in rows] == ["features", "twin", "informed"]
    assert "advantage_auc" not in rows[0]
    assert rows[2]["advantage_auc_ci"][0] > 0.4
