"""Input detectors on real models and data: split-conformal thresholds meet their false-positive
rate on held-out clean rows, real adversarial examples (redwatch's PGD and HopSkipJump on a
digits logistic regression) score above clean rows, scores are deterministic, the isolation
forest walk equals scikit-learn, and STRIP finds a real backdoor trigger."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from redwatch.attacks.hopskipjump import hopskipjump
from redwatch.attacks.pgd import pgd
from redwatch.demo.models import train_credit_gbm
from redwatch.exceptions import UsageError
from redwatch.guard.detectors import DETECTORS, Detector, DetectorSetup
from redwatch.guard.detectors.calibration import (
    CalibratedDetector,
    calibrate,
    conformal_threshold,
    min_calibration_rows,
    split_reference,
)
from redwatch.guard.detectors.iforest import IsolationForestDetector, IsolationForestParams
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec


@dataclass(frozen=True)
class Digits:
    """A digits logistic regression fitted on rows the detectors never calibrate on:
    `reference` (clean, unseen by the model) and `held_out` (clean, for measured rates)."""

    model: LogisticRegression
    spec: InputSpec
    reference: np.ndarray
    held_out: np.ndarray
    held_out_y: np.ndarray


@cache
def digits() -> Digits:
    """Train once per process: 600 training rows, 700 reference rows, 497 held out."""
    bunch = load_digits()
    x, y = bunch.data / 16.0, bunch.target
    x_fit, x_rest, y_fit, y_rest = train_test_split(x, y, train_size=600, random_state=0)
    x_ref, x_out, _, y_out = train_test_split(x_rest, y_rest, train_size=700, random_state=0)
    model = LogisticRegression(max_iter=2000, random_state=0).fit(x_fit, y_fit)
    names = tuple(f"pixel_{i}" for i in range(64))
    spec = InputSpec(names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8))
    return Digits(model, spec, x_ref, x_out, y_out)


@cache
def pgd_examples() -> tuple[np.ndarray, np.ndarray]:
    """(clean sources, successful L∞ 0.1 PGD adversarial examples) on held-out digits."""
    case = digits()
    target = SklearnTarget(case.model)
    ok = case.model.predict(case.held_out) == case.held_out_y
    x, y = case.held_out[ok], case.held_out_y[ok]
    result = pgd(target.loss_gradient, target.predict, x, y, eps=0.1, rng=np.random.default_rng(0))
    assert result.success.sum() >= 40, "PGD found too few adversarial examples to test with"
    return x, result.x_adv[result.success]


def _fitted(method: str, case: Digits, **params: object) -> CalibratedDetector:
    cls = DETECTORS[method]
    setup = DetectorSetup(spec=case.spec, proba=case.model.predict_proba, seed=0)
    detector = cls(cls.params_model.model_validate(params), setup)
    fit_rows, cal_rows = split_reference(case.reference, 0)
    return calibrate(detector, fit_rows, cal_rows, 0.05)


def _auc(clean: np.ndarray, attacked: np.ndarray) -> float:
    labels = np.r_[np.zeros(len(clean)), np.ones(len(attacked))]
    return float(roc_auc_score(labels, np.r_[clean, attacked]))


def _rate_bound(alpha: float, n_cal: int, n_test: int) -> float:
    """Four standard deviations of the measured rate (calibration and test draws) plus the
    1/(n+1) granularity of a conformal threshold."""
    return 4 * math.sqrt(alpha * (1 - alpha) * (1 / n_cal + 1 / n_test)) + 1 / (n_cal + 1)


# -- calibration ---------------------------------------------------------------------------
def test_conformal_threshold_is_the_ceil_rank() -> None:
    scores = np.arange(1.0, 100.0)  # 99 scores: 1..99
    # (n+1)(1-alpha) = 100 * 0.9 = 90 -> the 90th smallest
    assert conformal_threshold(scores[::-1], 0.1) == 90.0
    assert conformal_threshold(scores, 0.01) == 99.0  # 100 * 0.99 = 99, exactly n
    assert min_calibration_rows(0.01) == 99
    with pytest.raises(UsageError, match=r"needs at least 199 calibration rows, .* gives 99"):
        conformal_threshold(scores, 0.005)


def test_split_is_seeded_and_disjoint() -> None:
    rows = np.arange(101.0)[:, None]
    fit_a, cal_a = split_reference(rows, 3)
    fit_b, _cal_b = split_reference(rows, 3)
    np.testing.assert_array_equal(fit_a, fit_b)
    assert len(fit_a) == 50
    assert len(cal_a) == 51
    assert set(fit_a[:, 0]).isdisjoint(cal_a[:, 0])
    assert not np.array_equal(split_reference(rows, 4)[0], fit_a)


@pytest.mark.parametrize("method", ["mahalanobis", "iforest"])
@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_measured_fpr_on_held_out_credit_rows_is_near_target(method: str, alpha: float) -> None:
    """Demo credit GBM data: fit and calibrate on the training rows, measure on the 2,000
    held-out rows; the rate lands within a binomial bound of the target."""
    demo = train_credit_gbm(seed=0)
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    cls = DETECTORS[method]
    detector = cls(cls.params_model(), DetectorSetup(spec=spec, seed=0))
    fit_rows, cal_rows = split_reference(demo.x_train[:4000], 0)
    cal = calibrate(detector, fit_rows, cal_rows, alpha)
    measured = float(cal.flagged(cal.score(demo.x_test)).mean())
    assert abs(measured - alpha) <= _rate_bound(alpha, len(cal_rows), len(demo.x_test)), measured


@pytest.mark.parametrize("method", ["mahalanobis", "instability", "squeeze"])
def test_measured_fpr_on_held_out_digits_is_near_target(method: str) -> None:
    case = digits()
    cal = _fitted(method, case)
    measured = float(cal.flagged(cal.score(case.held_out)).mean())
    bound = _rate_bound(0.05, len(cal.calibration), len(case.held_out))
    assert abs(measured - 0.05) <= bound, measured


def test_threshold_on_the_fitting_rows_would_be_biased_low() -> None:
    """Why calibration is split: Mahalanobis in 64 dimensions fitted on 150 rows finds its
    own rows closer than new ones, so a threshold set on them flags far too many clean rows;
    the threshold from the other 550 rows meets the target."""
    case = digits()
    cls = DETECTORS["mahalanobis"]
    detector = cls(cls.params_model(), DetectorSetup(seed=0))
    fit_rows, cal_rows = case.reference[:150], case.reference[150:]
    cal = calibrate(detector, fit_rows, cal_rows, 0.05)
    naive = conformal_threshold(cal.score(fit_rows), 0.05)
    assert naive < cal.threshold
    held_out = cal.score(case.held_out)
    bound = _rate_bound(0.05, len(cal_rows), len(case.held_out))
    assert abs(float(cal.flagged(held_out).mean()) - 0.05) <= bound
    naive_rate = float((held_out > naive).mean())
    assert naive_rate > 0.05 + bound, naive_rate


# -- real adversarial examples ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "params", "min_auc"),
    [
        ("mahalanobis", {}, 0.9),
        ("iforest", {}, 0.75),
        ("instability", {}, 0.9),
        ("squeeze", {"bits": 3, "median": False}, 0.85),
    ],
)
def test_pgd_examples_score_above_clean_rows(
    method: str, params: dict[str, object], min_auc: float
) -> None:
    clean, adversarial = pgd_examples()
    cal = _fitted(method, digits(), **params)
    auc = _auc(cal.score(clean), cal.score(adversarial))
    assert auc >= min_auc, f"{method}: AUC {auc:.3f}"
    assert cal.flagged(cal.score(adversarial)).mean() > 0.2


def test_hopskipjump_examples_are_unstable() -> None:
    """Decision-based minimal-norm examples hug the boundary: noise shakes their prediction."""
    case = digits()
    clean, _ = pgd_examples()
    target = SklearnTarget(case.model)
    y = case.model.predict(clean[:40])
    res = hopskipjump(target.predict, clean[:40], y, max_queries=500, rng=np.random.default_rng(0))
    assert res.success.sum() >= 30
    cal = _fitted("instability", case)
    auc = _auc(cal.score(clean), cal.score(res.x_adv[res.success]))
    assert auc >= 0.9, auc


def test_strip_flags_a_real_backdoor_trigger_but_not_evasion() -> None:
    """Poison 10% of the training digits with a 2x2 corner trigger relabelled 0; STRIP's
    blends keep predicting 0 for triggered inputs (low entropy), not for clean ones, and
    small-norm PGD examples do not look like triggers."""
    case = digits()
    bunch = load_digits()
    x, y = bunch.data[:600] / 16.0, bunch.target[:600].copy()
    trigger = np.zeros((8, 8))
    trigger[6:, 6:] = 1.0
    poisoned = np.random.default_rng(0).choice(600, size=60, replace=False)
    x = x.copy()
    x[poisoned] = np.maximum(x[poisoned], trigger.reshape(-1))
    y[poisoned] = 0
    model = LogisticRegression(max_iter=2000, random_state=0).fit(x, y)
    triggered = np.maximum(case.held_out, trigger.reshape(-1))
    assert (model.predict(triggered) == 0).mean() > 0.8, "the backdoor did not take"
    setup = DetectorSetup(spec=case.spec, proba=model.predict_proba, seed=0)
    strip = DETECTORS["strip"](DETECTORS["strip"].params_model(), setup)
    fit_rows, cal_rows = split_reference(case.reference, 0)
    cal = calibrate(strip, fit_rows, cal_rows, 0.05)
    assert _auc(cal.score(case.held_out), cal.score(triggered)) > 0.9
    assert cal.flagged(cal.score(triggered)).mean() > 0.5
    clean, adversarial = pgd_examples()
    assert _auc(cal.score(clean), cal.score(adversarial)) < 0.6


# -- determinism and exactness ---------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(DETECTORS))
def test_scores_are_deterministic_and_batch_independent(method: str) -> None:
    """The same row gets the same score alone, in a batch, and from a second fit."""
    case = digits()
    rows = case.held_out[:25]
    first = _fitted(method, case).score(rows)
    second = _fitted(method, case)
    np.testing.assert_array_equal(second.score(rows), first)
    alone = np.array([second.score(rows[i : i + 1])[0] for i in range(len(rows))])
    np.testing.assert_allclose(alone, first, rtol=1e-12, atol=1e-12)
    assert first.shape == (25,)
    assert np.isfinite(first).all()


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_isolation_forest_walk_equals_scikit_learn(max_features: float) -> None:
    case = digits()
    params = IsolationForestParams(n_estimators=60, max_features=max_features)
    detector = IsolationForestDetector(params, DetectorSetup(seed=1))
    detector.fit(case.reference)
    _, adversarial = pgd_examples()
    rows = np.concatenate([case.held_out, adversarial, case.reference[:50]])
    np.testing.assert_allclose(detector.score(rows), detector.sklearn_score(rows), atol=1e-9)


def test_mahalanobis_picks_mcd_for_small_tables_and_shrinkage_for_images() -> None:
    demo = train_credit_gbm(seed=0)
    cls = DETECTORS["mahalanobis"]
    small = cls(cls.params_model(), DetectorSetup(seed=0))
    small.fit(demo.x_train[:1000])
    wide = cls(cls.params_model(), DetectorSetup(seed=0))
    wide.fit(digits().reference)
    assert (small.estimator_, wide.estimator_) == ("mcd", "ledoit_wolf")
    far = demo.x_train[:5] * np.array([1.0, 4.0, 4.0])
    assert (small.score(far) > small.score(demo.x_train[:5])).all()


def test_detector_declarations_are_complete() -> None:
    for method, cls in DETECTORS.items():
        assert issubclass(cls, Detector)
        assert cls.method == method
        assert cls.description
        assert "\n" not in cls.description
        assert cls.__doc__
        assert cls.fit.__doc__
        assert cls.score.__doc__
    assert {m for m, c in DETECTORS.items() if c.needs_model} == {
        "squeeze",
        "instability",
        "strip",
    }
