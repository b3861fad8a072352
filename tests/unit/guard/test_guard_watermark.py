"""watermark stage and records: the selected fraction on 20,000 real-model rows matches the
rate, answers are reproducible per row and key, label-only and score clients see the same
watermark label, records round-trip and verify, and a surrogate trained on the served labels
agrees with the watermark where an independent model does not."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from redwatch.demo.models import DemoModel, train_digits_logreg
from redwatch.exceptions import DataError, UsageError
from redwatch.guard import GuardedModel, GuardRequest, GuardResponse, parse_policy
from redwatch.guard.context import StageContext
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.guard.stages.watermark import WatermarkStage
from redwatch.guard.watermark_record import (
    RECORD_KEYS,
    SCHEMA,
    WatermarkRecord,
    agreement,
    canonical_row,
    is_selected,
    record_rows,
    row_digest,
    row_digests,
)
from redwatch.targets.spec import InputSpec

KEY = "unit-test-watermark-key-0123456789abcdef"
OTHER_KEY = "another-watermark-key-fedcba9876543210"
RATE = 0.005
N_ROWS = 20_000
TABLE = dict(BUILTIN_STAGES, watermark=WatermarkStage)


@cache
def digits() -> DemoModel:
    """The digits logistic regression (64 pixels in [0, 1], ten classes), once per process."""
    return train_digits_logreg(seed=0)


@cache
def queries() -> np.ndarray:
    """20,000 distinct inputs near real digits: training images with small seeded noise."""
    demo = digits()
    rng = np.random.default_rng(7)
    base = demo.x_train[rng.integers(0, len(demo.x_train), N_ROWS)]
    return np.clip(base + rng.normal(0.0, 0.05, base.shape), 0.0, 1.0)


def _guarded(
    monkeypatch: pytest.MonkeyPatch, key: str = KEY, output: dict[str, Any] | None = None
) -> GuardedModel:
    """The digits model behind validate (no caps), watermark, then output (listed after the
    watermark, so it runs before it on the way back)."""
    monkeypatch.setenv("REDWATCH_WATERMARK_KEY", key)
    demo = digits()
    policy = parse_policy(
        {
            "stages": [
                {
                    "name": "validate",
                    "options": {"max_payload_bytes": None, "max_rows": None, "spec_check": "off"},
                },
                {"name": "watermark", "options": {"rate": RATE, "key_id": "test-key"}},
                {"name": "output", "options": output or {"decimals": 4}},
            ]
        }
    )
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    return GuardedModel(demo.model, policy, spec, stages=TABLE).build()


def _records(guarded: GuardedModel) -> list[WatermarkRecord]:
    return [WatermarkRecord.from_dict(e.data) for e in guarded.last_events if e.kind == "watermark"]


# --- selection ----------------------------------------------------------------------------


def test_selected_fraction_matches_the_rate_and_only_those_labels_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guarded = _guarded(monkeypatch)
    x = queries()
    served = guarded.predict(x)
    truth = digits().model.predict(x)
    changed = np.flatnonzero(served != truth)
    low, high = binom.interval(1 - 1e-6, N_ROWS, RATE)
    assert low <= len(changed) <= high, f"{len(changed)} marked rows for rate {RATE}"
    records = _records(guarded)
    assert len(records) == len(changed)
    assert all(r.served != r.original and r.key_id == "test-key" for r in records)
    assert np.array_equal(record_rows(records), x[changed])
    assert [r.served for r in records] == served[changed].tolist()
    assert [r.original for r in records] == truth[changed].tolist()


@pytest.mark.parametrize("output", [{"decimals": 4}, {"decimals": 1}, {"label_only": True}])
def test_label_only_and_score_clients_see_the_same_watermark_label(
    monkeypatch: pytest.MonkeyPatch, output: dict[str, Any]
) -> None:
    guarded = _guarded(monkeypatch, output=output)
    x = queries()[:4000]
    labels = guarded.predict(x)
    proba = guarded.predict_proba(x)
    marked = labels != digits().model.predict(x)
    assert marked.sum() >= 5
    assert np.array_equal(proba[marked].argmax(axis=1), labels[marked])
    assert (proba[marked].max(axis=1) > np.sort(proba[marked], axis=1)[:, -2]).all()
    if output.get("label_only"):
        assert set(np.unique(proba)) == {0.0, 1.0}


def test_ties_in_rounded_scores_still_serve_the_watermark_label(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stage = _stage(monkeypatch, classes=[0, 1, 2])
    rows = _selected_rows(KEY, 3, width=2)
    proba = np.tile([0.5, 0.5, 0.0], (3, 1))
    response = GuardResponse(np.zeros(3, dtype=np.int64), proba, np.array([0, 1, 2]))
    decision = stage.on_response(GuardRequest(rows), response)
    assert decision.response is not None
    assert decision.response.proba is not None
    served = decision.response.labels
    assert np.array_equal(decision.response.proba.argmax(axis=1), served)
    assert not (served == 0).any()


def test_string_labels_keep_their_type(monkeypatch: pytest.MonkeyPatch) -> None:
    stage = _stage(monkeypatch, classes=["cat", "dog"])
    rows = _selected_rows(KEY, 2, width=3)
    decision = stage.on_response(GuardRequest(rows), GuardResponse(np.array(["cat", "dog"])))
    assert decision.response is not None
    assert decision.response.labels.tolist() == ["dog", "cat"]
    assert [e.data["served"] for e in decision.events] == ["dog", "cat"]


# --- reproducibility and the key ----------------------------------------------------------


def test_the_same_row_always_gets_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    guarded = _guarded(monkeypatch)
    x = queries()[:5000]
    first = guarded.predict(x)
    marked = int(np.flatnonzero(first != digits().model.predict(x))[0])
    repeated = guarded.predict(np.repeat(x[marked : marked + 1], 50, axis=0))
    assert set(repeated.tolist()) == {first[marked]}  # averaging repeats reveals nothing
    again = _guarded(monkeypatch).predict(x)  # a new deployment with the same key
    assert np.array_equal(again, first)


def test_a_different_key_selects_different_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    x = queries()
    truth = digits().model.predict(x)
    ours = set(np.flatnonzero(_guarded(monkeypatch).predict(x) != truth).tolist())
    theirs = set(np.flatnonzero(_guarded(monkeypatch, OTHER_KEY).predict(x) != truth).tolist())
    assert len(ours) > 50
    assert len(theirs) > 50
    assert len(ours & theirs) < 10  # about rate**2 * n = 0.5 expected by chance


def test_canonical_form_is_pinned_and_ignores_the_last_bits() -> None:
    row = np.array([1.0, -0.0, 0.1, 1e-20, 123456789.123456789])
    assert canonical_row(row) == b"redwatch.watermark/v1|5|1,0,0.1,1e-20,123456789.123"
    key = KEY.encode()
    assert row_digest(key, row) == row_digests(key, row[None, :])[0]
    roundtrip = np.asarray(json.loads(json.dumps(row.tolist())))
    assert row_digest(key, roundtrip) == row_digest(key, row)
    assert row_digest(key, row * (1 + 1e-15)) == row_digest(key, row)
    assert row_digest(key, row + 1e-6) != row_digest(key, row)


# --- records ------------------------------------------------------------------------------


def test_record_round_trips_verifies_and_pins_its_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    guarded = _guarded(monkeypatch)
    guarded.predict(queries()[:3000], client="ip:10.1.2.3")
    event = next(e for e in guarded.last_events if e.kind == "watermark")
    assert set(event.data) == RECORD_KEYS
    assert event.data["schema"] == SCHEMA
    assert event.data["client"] == "ip:10.1.2.3"
    assert KEY not in json.dumps(event.to_dict())
    record = WatermarkRecord.from_dict(json.loads(json.dumps(event.data)))
    assert record.to_dict() == event.data
    assert record.verify(KEY.encode(), RATE)
    assert not record.verify(OTHER_KEY.encode(), RATE)
    forged = dict(event.data, served=event.data["original"])
    assert not WatermarkRecord.from_dict(forged).verify(KEY.encode(), RATE)
    with pytest.raises(DataError, match=r"not a redwatch\.watermark/v1 record"):
        WatermarkRecord.from_dict(dict(event.data, extra=1))
    with pytest.raises(DataError, match="unsupported watermark record schema"):
        WatermarkRecord.from_dict(dict(event.data, schema="redwatch.watermark/v0"))


@pytest.mark.slow
def test_a_surrogate_trained_on_served_labels_carries_the_watermark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The thief labels 20,000 queries through the API and fits a tree that memorises
    them; an independent model trained on the true labels almost never gives the
    watermark labels. A heavily regularised surrogate may not memorise (see the docs)."""
    guarded = _guarded(monkeypatch)
    x = queries()
    served = guarded.predict(x)
    records = _records(guarded)
    surrogate = DecisionTreeClassifier(random_state=0).fit(x, served)
    demo = digits()
    independent = LogisticRegression(max_iter=500, random_state=1).fit(
        demo.x_test, demo.y_test
    )  # never saw the API
    rows = record_rows(records)
    stolen = agreement(surrogate.predict(rows), records)
    clean = agreement(independent.predict(rows), records)
    assert stolen.records == clean.records == len(records)
    assert stolen.rate > 0.9, stolen
    assert stolen.p_value < 1e-30, stolen
    assert clean.rate < 0.1, clean
    assert clean.p_value > 1e-3, clean
    assert clean.original > 0.5 * len(records)


def test_agreement_refuses_mismatched_inputs() -> None:
    record = WatermarkRecord("k", "00", "c", (0.0,), 1, 2, (1, 2, 3), 0.0)
    with pytest.raises(DataError, match="2 predictions for 1 watermark records"):
        agreement([1, 2], [record])
    score = agreement([2], [record])
    assert (score.watermark, score.original, score.chance) == (1, 0, 1 / 3)
    assert score.p_value == pytest.approx(1 / 3)


# --- options and build errors -------------------------------------------------------------


def test_build_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    context = StageContext(classes=np.array([0, 1]))
    monkeypatch.delenv("REDWATCH_WATERMARK_KEY", raising=False)
    with pytest.raises(UsageError, match=r"^stage watermark: environment variable REDWATCH"):
        WatermarkStage.from_options({}, context)
    monkeypatch.setenv("REDWATCH_WATERMARK_KEY", "short")
    with pytest.raises(UsageError, match=r"has 5 bytes; use at least 16"):
        WatermarkStage.from_options({}, context)
    monkeypatch.setenv("MY_KEY", KEY)
    custom = WatermarkStage.from_options({"key_env": "MY_KEY"}, context)
    assert isinstance(custom, WatermarkStage)
    assert custom.key == KEY.encode()
    with pytest.raises(UsageError, match=r"^policy: stage watermark: rate: .*less than or equal"):
        WatermarkStage.from_options({"rate": 0.01}, context)
    with pytest.raises(UsageError, match=r"needs the model's classes"):
        WatermarkStage.from_options({"key_env": "MY_KEY"}, StageContext())


def _stage(monkeypatch: pytest.MonkeyPatch, classes: list[Any]) -> WatermarkStage:
    monkeypatch.setenv("REDWATCH_WATERMARK_KEY", KEY)
    stage = WatermarkStage.from_options({"classes": classes}, StageContext())
    assert isinstance(stage, WatermarkStage)
    return stage


def _selected_rows(key: str, count: int, width: int) -> np.ndarray:
    """`count` rows that the key selects at RATE (found by scanning seeded random rows)."""
    rng = np.random.default_rng(0)
    found: list[np.ndarray] = []
    while len(found) < count:
        batch = rng.random((4000, width))
        found += [
            r
            for r, d in zip(batch, row_digests(key.encode(), batch), strict=True)
            if is_selected(d, RATE)
        ]
    return np.asarray(found[:count])
