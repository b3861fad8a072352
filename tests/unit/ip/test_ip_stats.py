"""Null rates and the binomial ownership test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from redwatch.exceptions import DataError, UsageError
from redwatch.ip.stats import (
    NullEstimate,
    ReferenceAgreement,
    binomial_p_value,
    estimate_null,
    fixed_null,
    ownership_test,
    upper_bound,
)


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.3), (7, 20, 0.1), (100, 100, 0.5)])
def test_p_value_matches_scipy_binomtest(k: int, n: int, p: float) -> None:
    expected = binomtest(k, n, p, alternative="greater").pvalue
    assert binomial_p_value(k, n, p) == pytest.approx(expected, rel=1e-9)


def test_upper_bound_covers_the_true_rate() -> None:
    """The 99 % upper bound lies above the true rate in about 99 % of samples."""
    rng = np.random.default_rng(0)
    hits = [upper_bound(int(rng.binomial(100, 0.2)), 100, 0.99) >= 0.2 for _ in range(2000)]
    assert 0.975 <= np.mean(hits) <= 1.0


def test_null_takes_the_most_agreeable_reference() -> None:
    low, high = ReferenceAgreement("a", 2, 100), ReferenceAgreement("b", 20, 100)
    null = estimate_null([low, high])
    assert null.rate == pytest.approx(upper_bound(20, 100, 0.99))
    assert null.rate > 0.2
    assert null.method == "reference-models"
    assert estimate_null([ReferenceAgreement("z", 0, 100)]).rate > 0.0
    assert NullEstimate.from_dict(null.to_dict()) == null


def test_ownership_verdicts() -> None:
    null = estimate_null([ReferenceAgreement("a", 10, 100)])
    owned = ownership_test(95, 100, null)
    assert owned.shown
    assert owned.p_value < 1e-30
    innocent = ownership_test(12, 100, null)
    assert not innocent.shown
    assert innocent.p_value > 0.5
    assert innocent.to_dict()["verdict"] == "not shown"
    assert ownership_test(4, 10, fixed_null(0.1, "chance-1/K"), alpha=0.05).shown


def test_bad_inputs() -> None:
    with pytest.raises(UsageError, match="at least one"):
        estimate_null([])
    with pytest.raises(UsageError, match="alpha"):
        ownership_test(1, 2, fixed_null(0.5, "x"), alpha=0)
    with pytest.raises(UsageError):
        fixed_null(1.0, "x")
    with pytest.raises(DataError, match="null"):
        NullEstimate.from_dict({"rate": "x"})
    with pytest.raises(DataError, match="agreements"):
        ReferenceAgreement.from_dict({"name": "a", "agreed": 5, "trials": 3})
