"""Groups of a sensitive column: text as is, few numbers as is, many numbers in quantile bins;
and the proxy measure (correlation ratio) of features against those groups."""

import numpy as np

from redwatch.demo.datasets import load_credit_default
from redwatch.fairness.groups import make_groups
from redwatch.fairness.proxies import correlation_ratios, top_proxies


def test_text_values_are_groups_in_alphabetical_order() -> None:
    groups = make_groups(np.array(["M", "F", "F", "X", "M"], dtype=object), bins=4)
    assert groups.names == ("F", "M", "X")
    assert groups.codes.tolist() == [1, 0, 0, 2, 1]
    assert groups.sizes().tolist() == [2, 2, 1]
    assert not groups.binned


def test_few_numbers_keep_their_values_in_numeric_order() -> None:
    groups = make_groups(np.array([10.0, 2.0, 1.0, 2.0]), bins=4)
    assert groups.names == ("1", "2", "10")
    assert groups.codes.tolist() == [2, 1, 0, 1]


def test_many_numbers_are_cut_into_quantile_bins() -> None:
    x, _ = load_credit_default()
    income = x["income"].to_numpy()
    groups = make_groups(income, bins=4)
    assert groups.binned
    assert len(groups.names) == 4
    sizes = groups.sizes()
    assert sizes.sum() == len(income)
    assert sizes.min() >= 0.24 * len(income)
    lows = [float(name.split("-")[0]) for name in groups.names]
    assert lows == sorted(lows)
    assert income[groups.codes == 0].max() < income[groups.codes == 3].min()


def test_tied_quantiles_give_fewer_bins() -> None:
    values = np.concatenate([np.zeros(900), np.arange(1, 101, dtype=float)])
    groups = make_groups(values, bins=4)
    assert groups.names[0] == "0"  # the tied quantiles merge into one bin of zeros
    assert groups.sizes()[0] == 900
    assert 2 <= len(groups.names) < 4
    assert groups.sizes().sum() == 1000


def test_correlation_ratio_finds_the_proxy() -> None:
    x, _ = load_credit_default()
    student = x["student"].to_numpy()
    codes = make_groups(student, bins=4).codes
    features = x[["balance", "income"]].to_numpy()
    eta = correlation_ratios(features, codes)
    assert eta[1] > 0.6  # students earn far less: income is a proxy for student
    assert eta[0] < eta[1]
    ranked = top_proxies(features, codes, ["balance", "income"])
    assert ranked[0]["feature"] == "income"
    assert correlation_ratios(np.ones((len(codes), 1)), codes).tolist() == [0.0]
