"""Out-of-distribution detector: far rows flagged, a plain Gaussian sample left alone."""

from __future__ import annotations

import numpy as np

from redwatch.data.ood import detect_ood


def test_far_rows_are_flagged_and_only_them() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 5))
    x[[7, 123, 400]] += 12.0
    report = detect_ood(x, fpr=0.01, seed=0)
    assert {f.row for f in report.flags} == {7, 123, 400}
    assert all(0.5 <= f.score <= 1.0 for f in report.flags)
    assert report.metrics["flagged"] == 3


def test_gaussian_sample_has_no_flags() -> None:
    x = np.random.default_rng(1).normal(size=(600, 6))
    report = detect_ood(x, fpr=0.01, seed=0)
    assert report.flags == ()
    assert report.metrics["threshold"] >= report.metrics["fence"]
