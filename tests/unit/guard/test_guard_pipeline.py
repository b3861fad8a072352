"""GuardPipeline and GuardedModel around a real scikit-learn model: order of the stages,
events, blocks as GuardBlocked with one-line reasons, and the registered entry points."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from _guard_models import WineCase, wine_case

from redwatch.exceptions import RedwatchError
from redwatch.guard import (
    Action,
    Decision,
    GuardBlocked,
    GuardedModel,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    GuardStage,
    parse_policy,
)
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.stages import BUILTIN_STAGES

ROOT = Path(__file__).parents[3]


@pytest.fixture
def wine() -> WineCase:
    return wine_case()


class _Trace(GuardStage):
    """Test stage that records the order in which the hooks run."""

    name: ClassVar[str] = "trace"
    description: ClassVar[str] = "records calls"
    calls: ClassVar[list[str]] = []

    def on_request(self, request: GuardRequest) -> Decision:
        self.calls.append("request")
        return Decision.allow()

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        self.calls.append("response")
        return Decision.allow()


class _BlockAnswers(GuardStage):
    """Test stage that refuses every response (as a detector on outputs would)."""

    name: ClassVar[str] = "deny_out"
    description: ClassVar[str] = "blocks responses"

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        return Decision.block("answers withheld", 403)


TABLE: dict[str, type[GuardStage]] = {**BUILTIN_STAGES, "trace": _Trace, "deny_out": _BlockAnswers}


def _guarded(case: WineCase, stages: list[dict[str, object]], **kw: Any) -> GuardedModel:
    policy = parse_policy({"stages": stages})
    return GuardedModel(case.model, policy, case.spec, stages=TABLE, **kw)


def test_default_policy_keeps_clean_predictions_and_rounds_probabilities(wine: WineCase) -> None:
    guarded = GuardedModel(wine.model, spec=wine.spec, stages=BUILTIN_STAGES)
    x = wine.x[::7]
    np.testing.assert_array_equal(guarded.predict(x), wine.model.predict(x))
    proba = guarded.predict_proba(x)
    raw = wine.model.predict_proba(x)
    np.testing.assert_allclose(proba, np.round(raw, 4))
    assert (proba.argmax(axis=1) == raw.argmax(axis=1)).all()
    assert [e.kind for e in guarded.last_events] == ["output_hardened"]


def test_out_of_range_row_is_recorded_repaired_and_predicted(wine: WineCase) -> None:
    guarded = GuardedModel(wine.model, spec=wine.spec, stages=BUILTIN_STAGES)
    x = wine.x[:3].copy()
    x[1, 12] = 1e7  # proline far above anything seen
    labels = guarded.predict(x)
    repaired = x.copy()
    repaired[1, 12] = wine.spec.upper[12]
    np.testing.assert_array_equal(labels, wine.model.predict(repaired))
    kinds = [(e.stage, e.kind) for e in guarded.last_events]
    assert kinds == [("validate", "spec_violation"), ("sanitize", "sanitized")]
    assert "row 1: violates x12" not in guarded.last_events[0].detail  # names, not indices
    assert "proline within" in guarded.last_events[0].detail


@pytest.mark.parametrize(
    ("x", "status", "reason"),
    [
        (np.zeros(13), 400, "expected a 2-D array (rows, features), got shape (13,)"),
        (np.zeros((2, 5)), 400, "rows have 5 features, the model expects 13"),
        (np.zeros((0, 13)), 400, "no rows in the request"),
        (np.full((2, 13), np.inf), 422, "2 row(s) contain NaN or infinite values (first: row 0)"),
        ([["a"] * 13], 400, "input is not a numeric array (ValueError)"),
        ([[1.0, 2.0], [3.0]], 400, "input is not a numeric array (ValueError)"),
    ],
)
def test_bad_input_raises_guard_blocked_with_one_line(
    wine: WineCase, x: object, status: int, reason: str
) -> None:
    seen: list[list[GuardEvent]] = []
    guarded = GuardedModel(wine.model, spec=wine.spec, stages=BUILTIN_STAGES, sink=seen.append)
    with pytest.raises(GuardBlocked) as info:
        guarded.predict(x)
    assert isinstance(info.value, RedwatchError)
    assert (info.value.status, info.value.reason) == (status, reason)
    assert "\n" not in str(info.value)
    assert len(seen) == 1
    assert seen[0][-1].action is Action.BLOCK


def test_request_hooks_run_in_order_and_response_hooks_in_reverse(wine: WineCase) -> None:
    _Trace.calls.clear()
    guarded = _guarded(wine, [{"name": "trace"}, {"name": "output", "options": {"top_k": 1}}])
    proba = guarded.predict_proba(wine.x[:4], client="alice")
    assert _Trace.calls == ["request", "response"]
    assert ((proba > 0).sum(axis=1) == 1).all()
    assert guarded.last_events[0].client == "alice"


def test_response_block_keeps_request_events_and_stops_the_answer(wine: WineCase) -> None:
    x = wine.x[:2].copy()
    x[0, 0] = -50.0
    guarded = _guarded(wine, [{"name": "deny_out"}, {"name": "sanitize"}])
    with pytest.raises(GuardBlocked, match=r"^blocked by deny_out: answers withheld$") as info:
        guarded.predict(x)
    assert info.value.status == 403
    kinds = [(e.stage, e.action) for e in guarded.last_events]
    assert kinds == [("sanitize", Action.MODIFY), ("deny_out", Action.BLOCK)]


def test_block_without_events_still_gets_an_event(wine: WineCase) -> None:
    pipeline = GuardPipeline(parse_policy({"stages": [{"name": "deny_out"}]}), None, TABLE)
    request = GuardRequest(wine.x[:1])
    response = GuardResponse(labels=np.array([0]))
    with pytest.raises(GuardBlocked) as info:
        pipeline.on_response(request, response)
    assert [e.detail for e in info.value.events] == ["answers withheld"]


def test_registered_entry_points_match_the_builtin_table() -> None:
    """pyproject.toml registers exactly the built-in stages, under their declared names."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    registered = data["project"]["entry-points"]["redwatch.guard_stages"]
    assert set(registered) == set(BUILTIN_STAGES)
    for name, ref in registered.items():
        attr = ref.split(":")[1]
        assert f"{BUILTIN_STAGES[name].__module__}:{BUILTIN_STAGES[name].__name__}" == ref
        assert BUILTIN_STAGES[name].name == name
        assert name.replace("-", "") == attr.lower().removesuffix("stage")
