"""auth stage and API keys around a real wine model: stored form only, 401 / 403 / 429,
failed-auth bursts as intrusion events, bounded client tracking, and thread safety."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from _guard_keys import TEST_COST, api_key
from _guard_models import WineCase, wine_case

from redwatch.exceptions import UsageError
from redwatch.guard import (
    Action,
    Decision,
    GuardBlocked,
    GuardedModel,
    GuardEvent,
    GuardPipeline,
    GuardRequest,
    parse_policy,
)
from redwatch.guard import keys as keys_module
from redwatch.guard.context import StageContext
from redwatch.guard.keys import (
    generate_api_key,
    hash_api_key,
    key_id,
    parse_stored,
    verify_api_key,
)
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.guard.stages.auth import AuthStage

DAY = 86400.0


@pytest.fixture
def wine() -> WineCase:
    return wine_case()


def _stage(*entries: dict[str, Any], **options: Any) -> AuthStage:
    stage = AuthStage.from_options({"keys": list(entries), **options})
    assert isinstance(stage, AuthStage)
    return stage


def _call(stage: AuthStage, key: str | None, t: float = 0.0, **kw: Any) -> Decision:
    return stage.on_request(GuardRequest(np.zeros((1, 13)), key=key, timestamp=t, **kw))


def _guarded(case: WineCase, *entries: dict[str, Any], **kw: Any) -> GuardedModel:
    policy = parse_policy({"stages": [{"name": "auth", "options": {"keys": list(entries)}}]})
    return GuardedModel(case.model, policy, case.spec, stages=BUILTIN_STAGES, **kw)


# --- keys ---------------------------------------------------------------------------------


def test_stored_form_is_salted_scrypt_and_verifies_only_the_key() -> None:
    key = "svc.correct-horse-battery-staple"
    first, second = hash_api_key(key, cost=TEST_COST), hash_api_key(key, cost=TEST_COST)
    assert first != second  # a fresh salt per hash
    assert first.startswith(f"scrypt${TEST_COST}$8$1$")
    assert "correct-horse" not in first
    assert verify_api_key(key, parse_stored(first))
    assert verify_api_key(key, parse_stored(second))
    assert not verify_api_key(key + "x", parse_stored(first))
    assert not verify_api_key("svc." + "a" * 600, parse_stored(first))


def test_generated_key_has_its_id_and_a_long_secret() -> None:
    key, entry = generate_api_key("billing-svc", "labels", quota={"requests": 5, "per": "hour"})
    ident, _, secret = key.partition(".")
    assert (ident, key_id(key)) == ("billing-svc", "billing-svc")
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64
    assert (entry["id"], entry["role"]) == ("billing-svc", "labels")
    assert entry["quota"] == {"requests": 5, "per": "hour"}
    assert entry["hash"].startswith("scrypt$16384$")  # the production cost by default
    assert verify_api_key(key, parse_stored(entry["hash"]))
    assert key_id("no-dot-here") is None
    assert key_id("bad id.secret") is None
    with pytest.raises(UsageError, match=r"^key id 'a\.b' must match "):
        generate_api_key("a.b", "labels")


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("svc.plain-key-pasted-here", "not a stored key hash"),
        ("scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "must be a power of two"),
        ("scrypt$1024$8$1$AAAA$" + "A" * 43, "salt of >= 16 bytes"),
    ],
)
def test_policy_refuses_anything_but_the_stored_form(stored: str, message: str) -> None:
    entry = {"id": "svc", "hash": stored, "role": "labels"}
    with pytest.raises(UsageError, match=rf"^policy: stage auth: keys\.0\.hash: .*{message}"):
        AuthStage.from_options({"keys": [entry]})


def test_policy_refuses_duplicate_ids_and_unknown_roles() -> None:
    _, entry = api_key("dup")
    with pytest.raises(UsageError, match="key id 'dup' is listed twice"):
        AuthStage.from_options({"keys": [entry, entry]})
    with pytest.raises(UsageError, match=r"key 'dup' has unknown role 'admin' \(labels, scores\)"):
        AuthStage.from_options({"keys": [{**entry, "role": "admin"}]})


# --- authentication -----------------------------------------------------------------------


def test_valid_key_passes_and_the_model_answers_as_without_the_guard(wine: WineCase) -> None:
    key, entry = api_key("scorer", "scores")
    guarded = _guarded(wine, entry)
    x = wine.x[::9]
    np.testing.assert_array_equal(guarded.predict(x, key=key), wine.model.predict(x))
    np.testing.assert_allclose(guarded.predict_proba(x, key=key), wine.model.predict_proba(x))
    assert guarded.last_events == []


@pytest.mark.parametrize(
    ("presented", "reason", "key_id_in_event"),
    [
        (None, "no API key", None),
        ("scorer.not-the-secret", "invalid API key", "scorer"),
        ("stranger.whatever", "invalid API key", "stranger"),
        ("no-id-at-all", "invalid API key", None),
    ],
)
def test_missing_or_wrong_key_is_401(
    wine: WineCase, presented: str | None, reason: str, key_id_in_event: str | None
) -> None:
    _, entry = api_key("scorer", "scores")
    guarded = _guarded(wine, entry)
    with pytest.raises(GuardBlocked, match=rf"^blocked by auth: {reason}$") as info:
        guarded.predict(wine.x[:2], key=presented, client="10.0.0.7")
    assert info.value.status == 401
    (event,) = info.value.events
    assert (event.kind, event.action, event.client) == ("auth_failed", Action.BLOCK, "10.0.0.7")
    assert event.data.get("key_id") == key_id_in_event


def test_role_without_the_method_is_403(wine: WineCase) -> None:
    key, entry = api_key("labeller", "labels")
    guarded = _guarded(wine, entry)
    np.testing.assert_array_equal(
        guarded.predict(wine.x[:3], key=key), wine.model.predict(wine.x[:3])
    )
    with pytest.raises(GuardBlocked) as info:
        guarded.predict_proba(wine.x[:3], key=key)
    assert info.value.status == 403
    assert info.value.reason == "key labeller (role labels) may not call predict_proba"
    assert info.value.events[0].data == {"key_id": "labeller", "status": 403}


def test_custom_roles_map_to_methods() -> None:
    key, entry = api_key("ops", "probe")
    stage = _stage({**entry, "role": "probe"}, roles={"probe": ["predict_proba"]})
    assert _call(stage, key, method="predict_proba") == Decision.allow()
    assert _call(stage, key, method="predict").status == 403


def test_quota_is_429_until_the_next_window_with_exact_retry_after() -> None:
    key, entry = api_key("metered", "scores", requests=3, per="day")
    stage = _stage(entry)
    start = 20_000 * DAY + 100.0
    assert [_call(stage, key, start + i).action for i in range(3)] == [Action.ALLOW] * 3
    spent = _call(stage, key, start + 50.0)
    assert (spent.status, spent.reason) == (429, "key metered used its quota of 3 requests per day")
    assert spent.events[0].data["retry_after"] == DAY - 150.0
    assert _call(stage, key, 20_001 * DAY).action is Action.ALLOW  # a new day
    other_key, other = api_key("hourly", "scores", requests=1, per="hour")
    hourly = _stage(other)
    assert _call(hourly, other_key, 7200.0).action is Action.ALLOW
    assert _call(hourly, other_key, 10_799.0).status == 429
    assert _call(hourly, other_key, 10_800.0).action is Action.ALLOW


def test_failed_calls_do_not_spend_the_quota() -> None:
    key, entry = api_key("metered", "labels", requests=1, per="hour")
    stage = _stage(entry)
    assert _call(stage, key, method="predict_proba").status == 403
    assert _call(stage, key.replace(".", ".x"), 1.0).status == 401
    assert _call(stage, key, 2.0).action is Action.ALLOW


# --- secrets never leak -------------------------------------------------------------------


def test_keys_appear_nowhere_in_policy_events_or_stage_state(wine: WineCase) -> None:
    key, entry = api_key("secretive", "labels", requests=2, per="hour")
    policy = parse_policy({"stages": [{"name": "auth", "options": {"keys": [entry]}}]})
    pipeline = GuardPipeline(policy, StageContext(spec=wine.spec), BUILTIN_STAGES)
    secret = key.partition(".")[2]
    wrong = "secretive.guessed-secret-value-123"
    events: list[GuardEvent] = []
    calls = [(key, "predict")] * 3 + [(wrong, "predict")] * 5 + [(key, "predict_proba")]
    for t, (presented, method) in enumerate(calls):
        request = GuardRequest(wine.x[:1], key=presented, timestamp=float(t), method=method)
        try:
            events.extend(pipeline.on_request(request)[1])
        except GuardBlocked as exc:
            events.extend(exc.events)
    kinds = [e.kind for e in events]
    assert kinds == ["quota_exceeded"] + ["auth_failed"] * 5 + ["intrusion", "forbidden"]
    stage = pipeline.stages[0]
    texts = [repr(events), repr(stage.options), repr(policy), repr(vars(stage))]
    for text in texts:
        assert secret not in text
        assert "guessed-secret" not in text


# --- intrusion ----------------------------------------------------------------------------


def _intrusions(decision: Decision) -> list[GuardEvent]:
    return [e for e in decision.events if e.kind == "intrusion"]


def test_failed_auth_burst_raises_one_intrusion_per_burst() -> None:
    _, entry = api_key("svc")
    stage = _stage(entry, intrusion_failures=3, intrusion_window=10.0)
    found = [len(_intrusions(_call(stage, "svc.bad", t))) for t in (0.0, 1.0, 2.0, 3.0, 9.0)]
    assert found == [0, 0, 1, 0, 0]  # the third failure within 10 s; reported once
    burst = _intrusions(_call(stage, "svc.bad", 30.0)) + _intrusions(_call(stage, None, 31.0))
    assert burst == []
    (event,) = _intrusions(_call(stage, "svc.bad", 32.0))
    assert event.data == {"failures": 3, "window_s": 10.0}
    assert event.detail == "3 failed authentications from anonymous within 10 s"


def test_spread_out_failures_and_other_clients_are_not_a_burst() -> None:
    _, entry = api_key("svc")
    stage = _stage(entry, intrusion_failures=3, intrusion_window=10.0)
    spread = [_intrusions(_call(stage, None, t)) for t in (0.0, 10.0, 20.0, 30.0)]
    assert spread == [[], [], [], []]
    mixed = [
        _intrusions(stage.on_request(GuardRequest(np.zeros((1, 13)), f"c{i % 3}", None, 0, 50.0)))
        for i in range(6)
    ]
    assert [len(m) for m in mixed] == [0, 0, 0, 0, 0, 0]
    assert (
        len(_intrusions(stage.on_request(GuardRequest(np.zeros((1, 13)), "c0", None, 0, 51.0))))
        == 1
    )


def test_client_tracking_is_bounded() -> None:
    _, entry = api_key("svc")
    stage = _stage(entry, max_tracked_clients=4, intrusion_failures=2)
    for i in range(100):
        stage.on_request(GuardRequest(np.zeros((1, 13)), f"10.0.{i}.1", None, 0, float(i)))
    assert stage.tracked_clients == 4


# --- cost and concurrency -----------------------------------------------------------------


def test_scrypt_runs_once_per_valid_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key, entry = api_key("cached")
    stage = _stage(entry)
    calls: list[int] = []
    real = keys_module._scrypt

    def counting(k: str, stored: keys_module.StoredKey) -> bytes:
        calls.append(1)
        return real(k, stored)

    monkeypatch.setattr(keys_module, "_scrypt", counting)
    assert all(_call(stage, key, float(t)).action is Action.ALLOW for t in range(20))
    assert len(calls) == 1
    assert _call(stage, key + "x").status == 401  # wrong keys are always checked in full
    assert len(calls) == 2


def test_quota_holds_exactly_under_threads() -> None:
    key, entry = api_key("shared", "scores", requests=37, per="hour")
    stage = _stage(entry)
    allowed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(_call(stage, key, 5.0).action is Action.ALLOW for _ in range(25))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 37
