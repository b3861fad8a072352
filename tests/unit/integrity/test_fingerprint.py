"""Behavioral fingerprints on scikit-learn models: round trip, no false alarm after a reload
from disk, one-coefficient tampering (boundary canaries versus data canaries), swapped models."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from _fingerprint_models import cancer, cancer_logreg
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import RidgeClassifier

from redwatch.exceptions import DataError, UsageError
from redwatch.integrity.fingerprint import (
    build_fingerprint,
    check_fingerprint,
    load_fingerprint,
    save_fingerprint,
)
from redwatch.integrity.fingerprint_canaries import bisect
from redwatch.targets.loading import load_target
from redwatch.targets.sklearn_target import SklearnTarget


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return cancer()


def _lr_target(data: tuple[np.ndarray, np.ndarray]) -> SklearnTarget:
    x, y = data
    return SklearnTarget(cancer_logreg(x, y), name="lr")


def test_build_records_data_and_boundary_canaries(data: tuple[np.ndarray, np.ndarray]) -> None:
    target = _lr_target(data)
    fp = build_fingerprint(target, data[0], n_canaries=40, seed=3)
    assert fp.counts == {"data": 20, "boundary": 20}
    assert fp.outputs == "scores"
    assert fp.expected.shape == (40, 2)
    assert np.all(fp.tolerances >= 1e-6)
    boundary = fp.expected[[k == "boundary" for k in fp.kinds]]
    data_rows = fp.expected[[k == "data" for k in fp.kinds]]
    # boundary canaries sit on the 50/50 line, data canaries are mostly confident
    assert np.abs(boundary[:, 1] - 0.5).max() < 1e-4
    assert np.median(np.abs(data_rows[:, 1] - 0.5)) > 0.3
    assert fp.model["kind"] == "sklearn"
    assert fp.model["n_features"] == 30


def test_same_seed_same_canaries(data: tuple[np.ndarray, np.ndarray]) -> None:
    target = _lr_target(data)
    a = build_fingerprint(target, data[0], seed=5)
    b = build_fingerprint(target, data[0], seed=5)
    c = build_fingerprint(target, data[0], seed=6)
    assert a.inputs_sha256 == b.inputs_sha256 != c.inputs_sha256


def test_bisection_lands_next_to_the_boundary(data: tuple[np.ndarray, np.ndarray]) -> None:
    target = _lr_target(data)
    x = data[0]
    labels = target.predict(x)
    i, j = int(np.flatnonzero(labels == 0)[0]), int(np.flatnonzero(labels == 1)[0])
    start, end = x[[i, j]], x[[j, i]]
    t = bisect(target, start, end, labels[[i, j]], steps=20)
    inside = target.predict(start + t[:, None] * (end - start))
    outside = target.predict(start + (t + 2.0**-20)[:, None] * (end - start))
    assert np.array_equal(inside, labels[[i, j]])
    assert np.array_equal(outside, labels[[j, i]])


def test_json_round_trip_is_exact(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    fp = build_fingerprint(_lr_target(data), data[0], seed=1)
    path = save_fingerprint(fp, tmp_path / "fp.json")
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1
    assert doc["canaries"]["sha256"] == fp.inputs_sha256
    back = load_fingerprint(path)
    assert np.array_equal(back.inputs, fp.inputs)
    assert np.array_equal(back.expected, fp.expected)
    assert back.kinds == fp.kinds
    assert back.model == fp.model


def test_edited_fingerprint_file_is_refused(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    path = save_fingerprint(build_fingerprint(_lr_target(data), data[0]), tmp_path / "fp.json")
    doc = json.loads(path.read_text())
    doc["canaries"]["inputs"][0][0] += 1.0
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="sha256"):
        load_fingerprint(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a fingerprint"):
        load_fingerprint(path)
    doc["schema_version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="schema_version"):
        load_fingerprint(path)


def test_reloaded_model_matches_every_time(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = data
    joblib.dump(cancer_logreg(x, y), tmp_path / "model.joblib")
    original = load_target(str(tmp_path / "model.joblib"))
    fp = build_fingerprint(original, x, seed=0)
    save_fingerprint(fp, tmp_path / "fp.json")
    for _ in range(5):
        reloaded = load_target(str(tmp_path / "model.joblib"))
        result = check_fingerprint(reloaded, load_fingerprint(tmp_path / "fp.json"))
        assert result.matches, result.summary()
        assert result.moved == ()
        assert result.max_delta <= 1e-6


def _tamper_counts(
    data: tuple[np.ndarray, np.ndarray], outputs: str, relative: float
) -> tuple[int, dict[str, int]]:
    """Perturb each coefficient of the logistic regression up and down by `relative` of the
    largest coefficient; count the tampers that data / boundary canaries detect."""
    target = _lr_target(data)
    fp = build_fingerprint(target, data[0], seed=0, outputs=outputs)
    coef = target.estimator[-1].coef_
    step = relative * float(np.abs(coef).max())
    detected = {"data": 0, "boundary": 0}
    trials = 0
    for j in range(coef.shape[1]):
        for sign in (1.0, -1.0):
            saved = coef[0, j]
            coef[0, j] = saved + sign * step
            by_kind = check_fingerprint(target, fp).moved_by_kind()
            coef[0, j] = saved
            trials += 1
            for kind in detected:
                detected[kind] += by_kind[kind] > 0
    assert check_fingerprint(target, fp).matches  # restored exactly
    return trials, detected


def test_one_coefficient_tamper_is_caught_by_boundary_canaries(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    trials, labels = _tamper_counts(data, "labels", 1e-5)
    assert trials == 60
    # labels only: data canaries are far from the boundary and never flip
    assert labels["boundary"] >= 55
    assert labels["data"] <= 3
    trials, scores = _tamper_counts(data, "scores", 1e-6)
    # scores: the smallest tampers show only where the probability slope is steepest
    assert scores["boundary"] >= 3 * max(scores["data"], 1)
    trials, coarse = _tamper_counts(data, "scores", 1e-3)
    assert coarse == {"data": 60, "boundary": 60}


def test_a_swapped_model_is_detected(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y)
    fp = build_fingerprint(SklearnTarget(forest, name="rf"), x, seed=0)
    retrained = RandomForestClassifier(n_estimators=20, random_state=1).fit(x, y)
    result = check_fingerprint(SklearnTarget(retrained, name="rf"), fp)
    assert not result.matches
    assert result.moved_by_kind()["boundary"] > 0
    other_rows = SklearnTarget(cancer_logreg(x, y, slice(0, 400)), name="lr")
    lr_fp = build_fingerprint(_lr_target(data), x, seed=0)
    assert len(check_fingerprint(other_rows, lr_fp).moved) > len(lr_fp.kinds) // 2


def test_labels_only_target_and_class_mismatch(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    target = SklearnTarget(RidgeClassifier().fit(x, y), name="ridge")
    fp = build_fingerprint(target, x, seed=0)
    assert fp.outputs == "labels"
    assert np.all(fp.tolerances == 0)
    assert check_fingerprint(target, fp).matches
    relabelled = SklearnTarget(RidgeClassifier().fit(x, np.where(y == 1, 5, 0)), name="ridge")
    result = check_fingerprint(relabelled, fp)
    assert not result.matches
    assert "classes" in (result.problem or "")
    with pytest.raises(UsageError, match="labels only"):
        build_fingerprint(target, x, outputs="scores")


def test_scores_fingerprint_checked_on_labels_when_scores_vanish(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = data
    model = cancer_logreg(x, y)
    fp = build_fingerprint(SklearnTarget(model, name="lr"), x, seed=0)
    labels_only = SklearnTarget(model, name="lr")
    labels_only.capabilities = type(labels_only.capabilities)(labels=True, scores=False)
    result = check_fingerprint(labels_only, fp)
    assert result.matches
    assert result.compared == "labels"


def test_feature_count_mismatch_is_drift(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    fp = build_fingerprint(_lr_target(data), x, seed=0)
    narrow = SklearnTarget(cancer_logreg(x[:, :10], y), name="lr")
    result = check_fingerprint(narrow, fp)
    assert not result.matches
    assert "10 features" in (result.problem or "")


def test_bad_settings_are_usage_errors(data: tuple[np.ndarray, np.ndarray]) -> None:
    target = _lr_target(data)
    with pytest.raises(UsageError):
        build_fingerprint(target, data[0], n_canaries=0)
    with pytest.raises(UsageError):
        build_fingerprint(target, data[0], boundary_fraction=1.5)
    with pytest.raises(DataError):
        build_fingerprint(target, np.full((3, 30), np.nan))


def test_single_class_data_falls_back_to_data_canaries(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    target = _lr_target(data)
    x = data[0]
    one_class = x[target.predict(x) == 1]
    fp = build_fingerprint(target, one_class, n_canaries=20, seed=0)
    assert fp.counts == {"data": 20, "boundary": 0}
