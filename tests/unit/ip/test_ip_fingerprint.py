"""IP fingerprints: conferrable boundary points, held-out calibration, the three-way decision,
the score test on recorded probabilities, and the signed fingerprint file (tampering, wrong
signer, wrong model, files without scores)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from redwatch.demo.models import DemoModel, train_digits_logreg
from redwatch.exceptions import DataError, UsageError
from redwatch.ip.fingerprint import (
    SCHEMA,
    FingerprintSettings,
    IPFingerprint,
    build_ip_fingerprint,
    compare_ip_fingerprint,
    load_ip_fingerprint,
    save_ip_fingerprint,
)
from redwatch.ip.fingerprint_calibrate import (
    DERIVED,
    INCONCLUSIVE,
    INDEPENDENT,
    Calibration,
    Comparison,
    decide,
    fine_tune,
    lower_bound,
    tv_distance,
)
from redwatch.ip.keys import public_key_hex
from redwatch.ip.stats import ReferenceAgreement, estimate_null
from redwatch.targets.base import Target
from redwatch.targets.detect import from_object

KEY = b"fingerprint-test-key-0123456789"
SETTINGS = FingerprintSettings(points=80, references=4, seed=3)


@pytest.fixture(scope="module")
def owner() -> DemoModel:
    """The digits logistic regression the fingerprints are taken of."""
    return train_digits_logreg(0)


@pytest.fixture(scope="module")
def fp(owner: DemoModel) -> IPFingerprint:
    """A small fingerprint of the owner (4 references: 2 choose, 2 calibrate)."""
    target = from_object(owner.model, name="owner")
    return build_ip_fingerprint(target, owner.x_train, owner.y_train, SETTINGS)


def test_points_carry_the_owners_labels_and_lie_off_the_data(
    owner: DemoModel, fp: IPFingerprint
) -> None:
    assert fp.points.shape == (80, 64)
    assert np.array_equal(owner.model.predict(fp.points), fp.labels)
    distance = np.min(np.abs(fp.points[:, None, :] - owner.x_train[None]).sum(axis=2), axis=1)
    assert np.all(distance > 1e-6)  # interpolated points, not copied data rows


def test_calibration_uses_held_out_references_only(fp: IPFingerprint) -> None:
    names = {r.name for r in fp.calibration.null.references}
    assert names == {"independent-3", "independent-4"}
    assert all(name.endswith("-2003") for name in (r.name for r in fp.calibration.derived))
    assert 0.0 < fp.calibration.null.rate < fp.calibration.threshold <= 1.0


def labels_only(model: object) -> Target:
    """The model behind an API that answers labels only."""
    target = from_object(model)
    target.capabilities = replace(target.capabilities, scores=False)
    return target


def noisy_copy(owner: DemoModel, scale: float) -> object:
    """A copy of the owner with Gaussian noise of `scale` x the mean |weight| on its weights."""
    model = copy.deepcopy(owner.model)
    noise = np.random.default_rng(0).standard_normal(model.coef_.shape)
    model.coef_ = model.coef_ + scale * np.abs(model.coef_).mean() * noise
    return model


def test_a_copy_is_derived_and_an_independent_model_is_not(
    owner: DemoModel, fp: IPFingerprint
) -> None:
    copied = compare_ip_fingerprint(from_object(copy.deepcopy(owner.model)), fp)
    assert copied.decision == DERIVED
    assert copied.labels.rate == 1.0
    assert copied.labels.p_value < fp.calibration.alpha
    assert copied.scores is not None
    assert copied.scores.rate == 1.0
    assert copied.scores.decision == DERIVED
    for seed in (5, 7):
        other = compare_ip_fingerprint(from_object(train_digits_logreg(seed).model), fp)
        assert other.decision != DERIVED
        assert other.labels.p_value > 0.01
        assert other.scores is not None
        assert other.scores.p_value > 0.01


def test_scores_are_recorded_and_split_alpha(owner: DemoModel, fp: IPFingerprint) -> None:
    assert fp.scores is not None
    probs = owner.model.predict_proba(fp.points)
    assert np.allclose(fp.scores.probabilities, probs)
    assert np.all(fp.scores.radius > 0.0)
    cal = fp.scores.calibration
    assert {r.name for r in cal.null.references} == {"independent-3", "independent-4"}
    assert cal.alpha == fp.calibration.alpha == pytest.approx(SETTINGS.alpha / 2)
    assert fp.scores.close(probs) == len(fp.labels)
    assert fp.scores.close(np.roll(probs, 1, axis=1)) < len(fp.labels) // 4


def test_scores_catch_a_perturbed_copy_that_labels_miss(
    owner: DemoModel, fp: IPFingerprint
) -> None:
    perturbed = noisy_copy(owner, 0.1)
    with_scores = compare_ip_fingerprint(from_object(perturbed), fp)
    assert with_scores.labels.decision != DERIVED
    assert with_scores.scores is not None
    assert with_scores.scores.decision == DERIVED
    assert with_scores.decision == DERIVED
    blind = compare_ip_fingerprint(labels_only(perturbed), fp)
    assert blind.scores is None
    assert blind.decision == with_scores.labels.decision != DERIVED
    assert compare_ip_fingerprint(labels_only(owner.model), fp).decision == DERIVED


def test_comparison_combines_the_two_tests() -> None:
    refs = [ReferenceAgreement("r1", 50, 100)]
    cal = Calibration(estimate_null(refs, 0.99), (refs[0],), 0.4, 1e-3, 0.99)
    derived, independent = decide(cal, 100, 100), decide(cal, 10, 100)
    inconclusive = decide(cal, 55, 100)
    assert (derived.decision, independent.decision) == (DERIVED, INDEPENDENT)
    assert Comparison(inconclusive, derived).decision == DERIVED
    assert Comparison(independent, inconclusive).decision == INDEPENDENT
    assert Comparison(inconclusive, independent).decision == INCONCLUSIVE
    doc = Comparison(independent, derived).to_dict()
    assert (doc["decision"], doc["label_decision"]) == (DERIVED, INDEPENDENT)
    assert doc["scores"]["decision"] == DERIVED
    assert np.allclose(tv_distance(np.array([[1.0, 0.0]]), np.array([[0.25, 0.75]])), [0.75])


def test_the_same_seed_gives_the_same_points(owner: DemoModel, fp: IPFingerprint) -> None:
    again = build_ip_fingerprint(from_object(owner.model), owner.x_train, owner.y_train, SETTINGS)
    assert again.digest == fp.digest


def test_decisions_follow_both_one_sided_tests() -> None:
    refs = [ReferenceAgreement("r1", 50, 100), ReferenceAgreement("r2", 55, 100)]
    cal = Calibration(
        null=estimate_null(refs, 0.99),
        derived=(ReferenceAgreement("d1", 85, 100),),
        derived_floor=lower_bound(85, 100, 0.99),
        alpha=1e-3,
        confidence=0.99,
    )
    assert decide(cal, 96, 100).decision == DERIVED
    assert decide(cal, 60, 100).decision == INDEPENDENT
    assert decide(cal, 75, 100).decision == INCONCLUSIVE
    assert 0.6 < cal.null.rate < cal.derived_floor < 0.85
    assert cal.separable
    k = round(cal.threshold * 100)
    assert decide(cal, k, 100).decision == DERIVED
    assert decide(cal, k - 1, 100).decision != DERIVED


def test_signed_file_round_trips_and_refuses_tampering(fp: IPFingerprint, tmp_path: Path) -> None:
    path = tmp_path / "fp.json"
    save_ip_fingerprint(fp, path, KEY)
    loaded, signed = load_ip_fingerprint(path, public_key_hex(KEY))
    assert signed
    assert loaded.digest == fp.digest
    assert loaded.calibration.to_dict() == fp.calibration.to_dict()
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA
    doc["labels"][0] = (doc["labels"][0] + 1) % 10
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DataError, match="signature does not verify"):
        load_ip_fingerprint(path)
    save_ip_fingerprint(fp, path, KEY)
    with pytest.raises(DataError, match="another key"):
        load_ip_fingerprint(path, public_key_hex(b"some-other-key-0123456789"))


def test_unsigned_file_checks_its_digest(fp: IPFingerprint, tmp_path: Path) -> None:
    path = tmp_path / "fp.json"
    save_ip_fingerprint(fp, path)
    assert load_ip_fingerprint(path)[1] is False
    with pytest.raises(DataError, match="is not signed"):
        load_ip_fingerprint(path, public_key_hex(KEY))
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["points"][0][0] += 0.5
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DataError, match="sha256"):
        load_ip_fingerprint(path)
    doc["points"][0][0] -= 0.5
    doc["scores"]["probabilities"][0][0] += 0.1
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DataError, match="scores do not match their sha256"):
        load_ip_fingerprint(path)
    path.write_text(json.dumps({"schema": "something/v1"}), encoding="utf-8")
    with pytest.raises(DataError, match="not an IP fingerprint"):
        load_ip_fingerprint(path)


def test_a_file_without_scores_uses_the_label_test(
    owner: DemoModel, fp: IPFingerprint, tmp_path: Path
) -> None:
    path = tmp_path / "fp.json"
    save_ip_fingerprint(fp, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    del doc["scores"]
    path.write_text(json.dumps(doc), encoding="utf-8")
    loaded, _ = load_ip_fingerprint(path)
    assert loaded.scores is None
    perturbed = compare_ip_fingerprint(from_object(noisy_copy(owner, 0.1)), loaded)
    assert perturbed.scores is None
    assert perturbed.decision != DERIVED
    assert compare_ip_fingerprint(from_object(owner.model), loaded).decision == DERIVED


def test_bad_inputs_are_one_line_errors(owner: DemoModel, fp: IPFingerprint) -> None:
    target = from_object(owner.model)
    with pytest.raises(UsageError, match="--references must be at least 4"):
        build_ip_fingerprint(
            target, owner.x_train, owner.y_train, FingerprintSettings(references=3)
        )
    with pytest.raises(DataError, match="single class"):
        build_ip_fingerprint(target, owner.x_train, np.zeros(len(owner.x_train)), SETTINGS)
    from sklearn.linear_model import LogisticRegression

    narrow = LogisticRegression().fit(owner.x_train[:, :8], owner.y_train)
    with pytest.raises(DataError, match="expects 8 features"):
        compare_ip_fingerprint(from_object(narrow), fp)


def test_fine_tuning_continues_from_the_owner(owner: DemoModel) -> None:
    tuned = fine_tune(owner.model, owner.x_test[:100], owner.y_test[:100], seed=1)
    assert tuned is not None
    assert tuned is not owner.model
    agree = np.mean(tuned.predict(owner.x_test) == owner.model.predict(owner.x_test))
    assert not np.allclose(tuned.coef_, owner.model.coef_)
    assert agree > 0.8
