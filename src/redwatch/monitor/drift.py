"""Window drift tests of live rows against a baseline: the population stability index (PSI)
on the baseline's bins for every feature, the two-sample Kolmogorov-Smirnov test for numeric
features and the chi² test of homogeneity for categorical ones.

Thresholds: a feature drifts on PSI when PSI > 0.2 (the usual "significant shift" line); on
KS or chi² when p < alpha / n_features (Bonferroni over the monitored features, alpha 0.01),
so a stationary window raises a KS/chi² alarm on any feature with probability <= alpha."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from redwatch.exceptions import DataError
from redwatch.monitor.baseline import CATEGORICAL, Baseline, FeatureRef

PSI = "psi"
KS = "ks"
CHI2 = "chi2"
MIN_EXPECTED = 5.0  # chi²: reference bins expecting fewer window rows are pooled


@dataclass(frozen=True)
class DriftThresholds:
    """PSI line and the family-wise alpha that KS and chi² share across features."""

    psi: float = 0.2
    alpha: float = 0.01


@dataclass(frozen=True)
class FeatureTest:
    """One test of one feature on one window: statistic, p-value (None for PSI), the
    threshold it was held to and whether it passed it (drift)."""

    feature: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class WindowReport:
    """Every test of one window."""

    n: int
    tests: tuple[FeatureTest, ...]

    def drifted(self, test: str | None = None) -> list[FeatureTest]:
        """Tests that found drift, optionally of one kind."""
        return [t for t in self.tests if t.drifted and (test is None or t.test == test)]

    def of(self, feature: str, test: str) -> FeatureTest | None:
        """The `test` result of `feature`, when it was run."""
        return next((t for t in self.tests if t.feature == feature and t.test == test), None)


def psi(expected_counts: np.ndarray, actual_counts: np.ndarray) -> float:
    """Population stability index between two count vectors over the same bins; half a
    count is added to every bin so that an empty bin does not make it infinite."""
    e = (np.asarray(expected_counts, float) + 0.5) / (
        np.sum(expected_counts) + 0.5 * len(expected_counts)
    )
    a = (np.asarray(actual_counts, float) + 0.5) / (
        np.sum(actual_counts) + 0.5 * len(actual_counts)
    )
    return float(np.sum((a - e) * np.log(a / e)))


def ks_test(reference: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value of `values` against the reference sample."""
    result = stats.ks_2samp(reference, values)
    return float(result.statistic), float(result.pvalue)


def chi2_test(reference_counts: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Chi² test that window counts and reference counts come from one distribution over
    the same bins; bins where the window would expect < 5 rows are pooled into one."""
    ref = np.asarray(reference_counts, float)
    win = np.asarray(counts, float)
    expected = ref / ref.sum() * win.sum()
    rare = expected < MIN_EXPECTED
    if rare.any():
        ref = np.append(ref[~rare], ref[rare].sum())
        win = np.append(win[~rare], win[rare].sum())
    keep = (ref + win) > 0
    if keep.sum() < 2:
        return 0.0, 1.0
    table = np.vstack([ref[keep], win[keep]])
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    return float(statistic), float(p_value)


def compare_window(
    baseline: Baseline, rows: np.ndarray, thresholds: DriftThresholds | None = None
) -> WindowReport:
    """Test every monitored feature of `rows` (full-width rows) against the baseline."""
    limits = thresholds or DriftThresholds()
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != baseline.n_columns:
        raise DataError(f"window rows must have {baseline.n_columns} columns")
    per_test_alpha = limits.alpha / max(len(baseline.features), 1)
    tests: list[FeatureTest] = []
    for ref in baseline.features:
        tests.extend(_feature_tests(ref, rows[:, ref.index], limits.psi, per_test_alpha))
    return WindowReport(len(rows), tuple(tests))


def _feature_tests(
    ref: FeatureRef, values: np.ndarray, psi_line: float, alpha: float
) -> list[FeatureTest]:
    """PSI plus KS (numeric) or chi² (categorical) of one feature."""
    counts = ref.bin_counts(values)
    value = psi(ref.counts, counts)
    out = [FeatureTest(ref.name, PSI, value, None, psi_line, value > psi_line)]
    if ref.kind == CATEGORICAL:
        statistic, p_value = chi2_test(ref.counts, counts)
        name = CHI2
    else:
        statistic, p_value = ks_test(ref.sample, values)
        name = KS
    out.append(FeatureTest(ref.name, name, statistic, p_value, alpha, p_value < alpha))
    return out
