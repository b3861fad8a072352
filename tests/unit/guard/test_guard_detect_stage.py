"""The `detect` guard stage around real models: options and their one-line errors, reference
loading and calibration at build time, blocking (422) or recording real PGD adversarial
examples with one `anomaly` event per call, and the false-positive rate of a whole stage."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _guard_models import wine_case

from redwatch.attacks.pgd import pgd
from redwatch.demo.models import DemoModel, train_credit_gbm, train_digits_logreg
from redwatch.exceptions import DataError, UsageError
from redwatch.guard import GuardBlocked, GuardedModel, GuardRequest, parse_policy
from redwatch.guard.context import StageContext
from redwatch.guard.stage import Action
from redwatch.guard.stages.detect import DetectStage
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

STAGES = {"detect": DetectStage}


@cache
def digits_demo() -> tuple[DemoModel, InputSpec]:
    demo = train_digits_logreg(seed=0)
    names = tuple(demo.feature_names)
    return demo, InputSpec(names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8))


@cache
def adversarial_digits() -> np.ndarray:
    """Successful L∞ 0.15 PGD examples against the demo digits logistic regression."""
    demo, _ = digits_demo()
    target = SklearnTarget(demo.model)
    x, y = demo.x_test[:120], demo.y_test[:120]
    res = pgd(target.loss_gradient, target.predict, x, y, eps=0.15, rng=np.random.default_rng(0))
    assert res.success.sum() >= 30, "PGD found too few adversarial examples"
    return res.x_adv[res.success]


def _stage(options: dict[str, Any], **context: Any) -> DetectStage:
    stage = DetectStage.from_options(options, StageContext(**context))
    assert isinstance(stage, DetectStage)
    return stage


def _digits_stage(**options: Any) -> DetectStage:
    demo, spec = digits_demo()
    return _stage(
        options,
        spec=spec,
        predict_proba=demo.model.predict_proba,
        reference=demo.x_train,
    )


def _guarded(**options: Any) -> GuardedModel:
    demo, spec = digits_demo()
    policy = parse_policy({"stages": [{"name": "detect", "options": options}]})
    return GuardedModel(demo.model, policy, spec, reference=demo.x_train, stages=STAGES).build()


# -- options ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"detectors": ["nope"]}, "detectors: entry 0: unknown detector 'nope'; known: maha"),
        ({"detectors": [{"bits": 3}]}, "detectors: entry 0: needs a `method`"),
        (
            {"detectors": ["mahalanobis", {"method": "squeeze", "bits": 0}]},
            "entry 1 (squeeze): bits: Input should be greater than or equal to 1",
        ),
        ({"detectors": [{"method": "iforest", "trees": 5}]}, "entry 0 (iforest): trees: Extra"),
        ({"detectors": ["iforest", "iforest"]}, "detector 'iforest' is listed twice"),
        ({"detectors": []}, "detectors: List should have at least 1 item"),
        ({"fpr": 0}, "fpr: Input should be greater than 0"),
        ({"fpr": 0.7}, "fpr: Input should be less than 0.5"),
        ({"action": "drop"}, "action: Input should be 'block' or 'event'"),
        ({"max_reference_rows": 3}, "max_reference_rows: Input should be greater than or equal"),
        ({"threshold": 3}, "threshold: Extra inputs are not permitted"),
    ],
)
def test_bad_options_are_one_line_usage_errors(options: dict[str, Any], message: str) -> None:
    wine = wine_case()
    with pytest.raises(UsageError) as info:
        _stage(options, spec=wine.spec, reference=wine.x)
    text = str(info.value)
    assert text.startswith("policy: stage detect: ")
    assert "\n" not in text
    assert message in text


def test_model_detectors_without_a_local_model_name_the_model_option() -> None:
    wine = wine_case()
    with pytest.raises(UsageError) as info:
        _stage({"detectors": ["mahalanobis", {"method": "squeeze"}]}, reference=wine.x)
    text = str(info.value)
    assert "stage detect: detector squeeze needs a local model" in text
    assert "--model" in text
    assert "\n" not in text


def test_strip_on_tabular_data_is_a_usage_error() -> None:
    wine = wine_case()
    with pytest.raises(UsageError, match="detector strip works on images only"):
        _stage(
            {"detectors": ["strip"]},
            spec=wine.spec,
            predict_proba=wine.model.predict_proba,
            reference=wine.x,
        )


def test_missing_reference_is_a_usage_error() -> None:
    wine = wine_case()
    with pytest.raises(UsageError, match="stage detect: needs reference data"):
        _stage({}, spec=wine.spec)


def test_reference_with_the_wrong_width_is_a_data_error(tmp_path: Path) -> None:
    wine = wine_case()
    with pytest.raises(DataError, match="reference rows have 12 features, the model expects 13"):
        _stage({}, spec=wine.spec, reference=wine.x[:, :12])
    np.save(tmp_path / "ref.npy", wine.x[:, 1:])
    with pytest.raises(DataError, match="12 features"):
        _stage({"reference": "ref.npy"}, spec=wine.spec, base_dir=tmp_path)


def test_reference_with_nan_is_a_data_error() -> None:
    wine = wine_case()
    bad = wine.x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="stage detect: reference rows contain NaN"):
        _stage({}, spec=wine.spec, reference=bad)


def test_too_small_a_reference_for_the_rate_is_a_usage_error() -> None:
    """Wine's 178 rows give 89 calibration rows: 1% split over two detectors (0.5% each)
    needs 199, and the error says how to fix it."""
    wine = wine_case()
    with pytest.raises(UsageError) as info:
        _stage({"detectors": ["mahalanobis", "iforest"]}, spec=wine.spec, reference=wine.x)
    text = str(info.value)
    assert text.startswith("stage detect: detector mahalanobis: a false-positive rate of 0.005")
    assert "needs at least 199 calibration rows, the reference gives 89" in text
    stage = _stage({"fpr": 0.1}, spec=wine.spec, reference=wine.x)
    assert [c.name for c in stage.calibrated] == ["mahalanobis"]


def test_reference_file_relative_to_the_policy_folder(tmp_path: Path) -> None:
    demo = train_credit_gbm(seed=0)
    np.save(tmp_path / "clean.npy", demo.x_train[:600])
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    stage = _stage(
        {"reference": "clean.npy", "detectors": ["iforest"], "fpr": 0.05},
        spec=spec,
        base_dir=tmp_path,
        reference=demo.x_train[:50],  # the file wins over the deployment's rows
    )
    assert len(stage.calibrated[0].calibration) == 300


def test_max_reference_rows_caps_the_reference() -> None:
    stage = _digits_stage(detectors=["mahalanobis"], max_reference_rows=400, fpr=0.05)
    assert len(stage.calibrated[0].calibration) == 200


# -- decisions and events ----------------------------------------------------------------------
def test_adversarial_rows_are_blocked_with_a_422_naming_the_detector() -> None:
    demo, _ = digits_demo()
    adversarial = adversarial_digits()
    guarded = _guarded(detectors=["mahalanobis", "instability"], fpr=0.01)
    blocks = [b for b in (_outcome(guarded, row) for row in adversarial) if b is not None]
    assert len(blocks) / len(adversarial) > 0.5
    for exc in blocks:
        assert exc.status == 422
        assert exc.stage == "detect"
        assert "flagged as anomalous by detector" in exc.reason
        assert "\n" not in exc.reason
    clean = demo.x_test[120:]
    passed = sum(1 for row in clean if _outcome(guarded, row) is None)
    assert passed / len(clean) > 0.95


def _outcome(guarded: GuardedModel, row: np.ndarray) -> GuardBlocked | None:
    """The block a one-row call met, or None when it went through."""
    try:
        guarded.predict(row[None, :])
    except GuardBlocked as exc:
        return exc
    return None


def test_one_flagged_row_blocks_a_multi_row_request_with_one_event() -> None:
    demo, _ = digits_demo()
    stage = _digits_stage(detectors=["mahalanobis"], fpr=0.01)
    cal = stage.calibrated[0]
    adversarial = adversarial_digits()
    worst = adversarial[int(np.argmax(cal.score(adversarial)))]
    clean = demo.x_test[200:206]
    clean = clean[~cal.flagged(cal.score(clean))][:4]
    rows = np.vstack([clean[:2], worst, clean[2:]])
    decision = stage.on_request(GuardRequest(rows, client="ip:10.0.0.7"))
    assert decision.action is Action.BLOCK
    assert decision.status == 422
    assert "1 of 5 row(s) flagged as anomalous by detector mahalanobis" in decision.reason
    (event,) = decision.events
    assert event.kind == "anomaly"
    assert event.stage == "detect"
    assert event.client == "ip:10.0.0.7"
    data = event.data
    assert data["detector"] == "mahalanobis"
    assert data["rows"] == [2]
    assert data["score"] > data["threshold"] == cal.threshold
    assert 0 < data["p_value"] <= 0.01
    json.dumps(event.to_dict(), allow_nan=False)  # plain JSON types only
    assert all(type(v) in (int, float, str, list, dict) for v in data.values())


def test_event_action_records_every_flagged_row_and_lets_the_call_through() -> None:
    demo, _ = digits_demo()
    adversarial = adversarial_digits()
    stage = _digits_stage(detectors=["mahalanobis", "instability"], fpr=0.01, action="event")
    rows = np.vstack([adversarial[:10], demo.x_test[300:310]])
    decision = stage.on_request(GuardRequest(rows))
    assert decision.action is Action.ALLOW
    (event,) = decision.events
    assert event.action is Action.ALLOW
    assert event.kind == "anomaly"
    flagged = event.data["flagged"]
    assert set(flagged) <= {"mahalanobis", "instability"}
    union = sorted({i for idx in flagged.values() for i in idx})
    assert event.data["rows"] == union
    assert sum(1 for i in union if i < 10) >= 6
    guarded = _guarded(detectors=["mahalanobis"], fpr=0.01, action="event")
    labels = guarded.predict(rows)
    assert len(labels) == 20
    assert [e.kind for e in guarded.last_events] == ["anomaly"]


def test_clean_calls_produce_no_events() -> None:
    demo, _ = digits_demo()
    stage = _digits_stage(detectors=["mahalanobis"], fpr=0.01)
    cal = stage.calibrated[0]
    clean = demo.x_test[~cal.flagged(cal.score(demo.x_test))][:50]
    decision = stage.on_request(GuardRequest(clean))
    assert decision.action is Action.ALLOW
    assert decision.events == ()


@pytest.mark.parametrize(
    ("rows", "status", "text"),
    [
        (np.zeros((2, 63)), 400, "cannot be scored: the detectors expect 64 features"),
        (np.full((1, 64), np.nan), 422, "NaN or infinite"),
        (np.zeros((0, 64)), 400, "cannot be scored"),
    ],
)
def test_rows_the_detectors_cannot_read_are_refused(
    rows: np.ndarray, status: int, text: str
) -> None:
    stage = _digits_stage(detectors=["mahalanobis"], action="event")
    decision = stage.on_request(GuardRequest(rows))
    assert decision.action is Action.BLOCK
    assert decision.status == status
    assert text in decision.reason
    assert decision.events[0].kind == "invalid_input"


def test_whole_stage_fpr_on_held_out_credit_rows_meets_the_target() -> None:
    """Demo credit GBM, three detectors splitting 2%: the share of the 2,000 held-out clean
    rows the stage flags is at most the target (plus a binomial margin), and not zero."""
    demo = train_credit_gbm(seed=0)
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    stage = _stage(
        {"detectors": ["mahalanobis", "iforest", "instability"], "fpr": 0.02},
        spec=spec,
        predict_proba=demo.model.predict_proba,
        reference=demo.x_train,
    )
    assert [c.alpha for c in stage.calibrated] == pytest.approx([0.02 / 3] * 3)
    scores = stage.scores(demo.x_test)
    flagged = np.zeros(len(demo.x_test), dtype=bool)
    for cal in stage.calibrated:
        flagged |= cal.flagged(scores[cal.name])
    rate = float(flagged.mean())
    n_cal = len(stage.calibrated[0].calibration)
    margin = 4 * math.sqrt(0.02 * 0.98 * (1 / n_cal + 1 / len(flagged))) + 3 / (n_cal + 1)
    assert 0 < rate <= 0.02 + margin, rate


def test_calibration_is_deterministic_for_a_seed() -> None:
    first = _digits_stage(detectors=["iforest", "instability"], fpr=0.02)
    again = _digits_stage(detectors=["iforest", "instability"], fpr=0.02)
    other = _digits_stage(detectors=["iforest", "instability"], fpr=0.02, seed=5)
    assert [c.threshold for c in first.calibrated] == [c.threshold for c in again.calibrated]
    assert [c.threshold for c in first.calibrated] != [c.threshold for c in other.calibrated]
