"""The numpy rates and disparities agree with fairlearn's functions on real decisions, and
undefined rates (a group without positives) are left out instead of counted as zero."""

import numpy as np
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from sklearn.linear_model import LogisticRegression

from redwatch.demo.datasets import load_credit_default
from redwatch.fairness.bootstrap import onehot
from redwatch.fairness.frame import metric_frame, point_disparities
from redwatch.fairness.rates import Outcomes, disparities, group_rates, ratio, spread


@pytest.fixture(scope="module")
def decisions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a logistic regression's decisions (no student input) and the student column."""
    x, y = load_credit_default()
    model = LogisticRegression(max_iter=1000).fit(x[["balance", "income"]], y)
    pred = model.predict(x[["balance", "income"]])
    student = np.where(x["student"] == 1, "Yes", "No").astype(object)
    return y.to_numpy(), pred, student


def _identity(codes: np.ndarray, out: Outcomes) -> dict[str, np.ndarray]:
    rows = np.arange(len(codes))[None, :]
    return disparities(group_rates(out, rows, onehot(codes, int(codes.max()) + 1)))


@pytest.mark.parametrize("favourable", [0, 1])
def test_numpy_and_metric_frame_match_fairlearn(
    decisions: tuple[np.ndarray, np.ndarray, np.ndarray], favourable: int
) -> None:
    y, pred, student = decisions
    codes = (student == "Yes").astype(np.int64)
    mine = _identity(codes, Outcomes.of(y, pred, favourable))
    frame = point_disparities(metric_frame(y, pred, student, favourable))
    t, p = y == favourable, pred == favourable
    expected = {
        "dp_difference": demographic_parity_difference(t, p, sensitive_features=student),
        "dp_ratio": demographic_parity_ratio(t, p, sensitive_features=student),
        "eo_difference": equalized_odds_difference(t, p, sensitive_features=student),
        "eo_ratio": equalized_odds_ratio(t, p, sensitive_features=student),
    }
    for key, value in expected.items():
        assert mine[key][0] == pytest.approx(value, abs=1e-12), key
        assert frame[key] == pytest.approx(value, abs=1e-12), key


def test_metric_frame_rates_per_group(decisions: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, pred, student = decisions
    by_group = metric_frame(y, pred, student, 1).by_group
    yes = student == "Yes"
    assert by_group.loc["Yes", "count"] == yes.sum()
    assert by_group.loc["Yes", "selection_rate"] == pytest.approx(np.mean(pred[yes] == 1))
    positives = yes & (y == 1)
    assert by_group.loc["Yes", "tpr"] == pytest.approx(np.mean(pred[positives] == 1))
    assert by_group.loc["No", "accuracy"] == pytest.approx(np.mean(pred[~yes] == y[~yes]))


def test_group_without_positives_has_no_tpr() -> None:
    y = np.array([0, 0, 0, 1, 1, 0])
    pred = np.array([0, 1, 0, 1, 0, 0])
    codes = np.array([0, 0, 0, 1, 1, 1])
    out = Outcomes.of(y, pred, 1)
    rates = group_rates(out, np.arange(6)[None, :], onehot(codes, 2))
    assert np.isnan(rates["tpr"][0, 0])
    assert rates["tpr"][0, 1] == 0.5
    # the TPR term has one defined group: no gap; the FPR gap decides
    assert disparities(rates)["eo_difference"][0] == pytest.approx(1 / 3)
    frame = point_disparities(metric_frame(y, pred, codes.astype(str), 1))
    assert frame["eo_difference"] == pytest.approx(1 / 3)


def test_spread_and_ratio_edge_cases() -> None:
    values = np.array([[0.2, 0.5, np.nan], [0.0, 0.0, 0.0], [np.nan, np.nan, np.nan]])
    assert spread(values)[0] == pytest.approx(0.3)
    assert ratio(values)[0] == pytest.approx(0.4)
    assert ratio(values)[1] == 1.0  # nobody selected anywhere: no gap
    assert np.isnan(spread(values)[2])
    assert np.isnan(ratio(values)[2])
