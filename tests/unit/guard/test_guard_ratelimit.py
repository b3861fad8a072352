"""ratelimit stage and token buckets: exact refill at given timestamps, per-key against
global limits (taken from both or neither), bounded state, threads, and a real model
behind auth + ratelimit."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from _guard_keys import api_key
from _guard_models import WineCase, wine_case

from redwatch.exceptions import UsageError
from redwatch.guard import Action, Decision, GuardBlocked, GuardedModel, GuardRequest, parse_policy
from redwatch.guard.buckets import Bucket, MemoryBackend, Refusal
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.guard.stages.ratelimit import RateLimitStage


@pytest.fixture
def wine() -> WineCase:
    return wine_case()


def _stage(**options: Any) -> RateLimitStage:
    stage = RateLimitStage.from_options(options)
    assert isinstance(stage, RateLimitStage)
    return stage


def _call(
    stage: RateLimitStage, t: float, key: str | None = None, client: str = "c", rows: int = 1
) -> Decision:
    return stage.on_request(GuardRequest(np.zeros((rows, 4)), client, key, 0, t))


def _memory(stage: RateLimitStage) -> MemoryBackend:
    backend = stage.backend
    assert isinstance(backend, MemoryBackend)
    return backend


# --- bucket math --------------------------------------------------------------------------


def test_refill_is_exact_at_given_timestamps() -> None:
    backend = MemoryBackend()
    bucket = Bucket("b", rate=2.0, burst=4.0)
    assert [backend.take([bucket], 1.0, 0.0) for _ in range(4)] == [None] * 4
    assert backend.take([bucket], 1.0, 0.0) == Refusal("b", 0.5)
    assert backend.level(bucket, 0.25) == 0.5
    assert backend.take([bucket], 1.0, 0.25) == Refusal("b", 0.25)
    assert backend.take([bucket], 1.0, 0.5) is None
    assert backend.level(bucket, 0.5) == 0.0
    assert backend.take([bucket], 3.0, 1.5) == Refusal("b", 0.5)  # 1 s refilled 2 tokens
    assert backend.take([bucket], 2.0, 1.5) is None
    assert backend.level(bucket, 1.75) == 0.5
    assert backend.level(bucket, 1000.0) == 4.0  # never above the burst


def test_time_running_back_adds_no_tokens() -> None:
    backend = MemoryBackend()
    bucket = Bucket("b", rate=1.0, burst=2.0)
    assert backend.take([bucket], 2.0, 10.0) is None
    assert backend.take([bucket], 1.0, 5.0) == Refusal("b", 1.0)
    assert backend.level(bucket, 10.5) == 0.5


def test_a_refused_call_takes_nothing_from_any_bucket() -> None:
    backend = MemoryBackend()
    roomy, tight = Bucket("roomy", 1.0, 10.0), Bucket("tight", 1.0, 1.0)
    assert backend.take([roomy, tight], 1.0, 0.0) is None
    assert backend.take([roomy, tight], 1.0, 0.0) == Refusal("tight", 1.0)
    assert backend.level(roomy, 0.0) == 9.0
    assert backend.take([roomy, tight], 1.0, 1.0) is None


# --- the stage ----------------------------------------------------------------------------


def test_per_key_limit_blocks_429_with_retry_after() -> None:
    stage = _stage(per_key={"rate": 4.0, "burst": 2.0}, **{"global": None})
    assert [_call(stage, 0.0, "a.k").action for _ in range(2)] == [Action.ALLOW] * 2
    blocked = _call(stage, 0.0, "a.k")
    assert (blocked.action, blocked.status) == (Action.BLOCK, 429)
    assert blocked.reason == "per_key rate limit exceeded; retry after 0.25 s"
    assert blocked.events[0].data == {"bucket": "per_key", "retry_after": 0.25, "status": 429}
    assert _call(stage, 0.0, "b.k").action is Action.ALLOW  # another key has its own bucket
    assert _call(stage, 0.25, "a.k").action is Action.ALLOW


def test_global_limit_caps_all_keys_together() -> None:
    stage = _stage(per_key={"rate": 1.0, "burst": 2.0}, **{"global": {"rate": 1.0, "burst": 3.0}})
    decisions = [_call(stage, 0.0, f"{name}.k") for name in ("a", "a", "a", "b", "c")]
    assert [d.action for d in decisions] == [Action.ALLOW] * 2 + [Action.BLOCK, Action.ALLOW] + [
        Action.BLOCK
    ]
    assert decisions[2].events[0].data["bucket"] == "per_key"
    assert decisions[4].events[0].data["bucket"] == "global"
    assert decisions[4].events[0].data["retry_after"] == 1.0
    # the per-key refusal of a took nothing from the global bucket: b and a took 3 in all
    assert _memory(stage).level(Bucket("global", 1.0, 3.0), 0.0) == 0.0


def test_without_a_key_or_by_client_the_client_is_counted() -> None:
    stage = _stage(per_key={"rate": 1.0, "burst": 1.0}, **{"global": None})
    assert _call(stage, 0.0, client="10.0.0.1").action is Action.ALLOW
    assert _call(stage, 0.0, client="10.0.0.1").status == 429
    assert _call(stage, 0.0, client="10.0.0.2").action is Action.ALLOW
    by_client = _stage(per_key={"rate": 1.0, "burst": 1.0}, by="client", **{"global": None})
    assert _call(by_client, 0.0, "a.k", client="x").action is Action.ALLOW
    assert _call(by_client, 0.0, "b.k", client="x").status == 429


def test_a_forged_key_with_a_victims_id_has_its_own_bucket() -> None:
    stage = _stage(per_key={"rate": 1.0, "burst": 1.0}, **{"global": None})
    assert _call(stage, 0.0, "victim.forged").action is Action.ALLOW
    assert _call(stage, 0.0, "victim.forged").status == 429
    assert _call(stage, 0.0, "victim.real-secret").action is Action.ALLOW
    names = [stage.identity(GuardRequest(np.zeros((1, 1)), key="victim.real-secret"))]
    assert names[0].startswith("key:victim:")
    assert "real-secret" not in names[0]


def test_row_cost_counts_rows_and_an_impossible_call_is_413() -> None:
    stage = _stage(per_key={"rate": 1.0, "burst": 10.0}, cost="row", **{"global": None})
    assert _call(stage, 0.0, rows=6).action is Action.ALLOW
    assert _call(stage, 0.0, rows=5).events[0].data["retry_after"] == 1.0
    too_big = _call(stage, 0.0, rows=11)
    assert (too_big.status, too_big.reason) == (
        413,
        "a call costing 11 tokens exceeds the burst of 10",
    )
    assert (
        _stage(per_key=None, **{"global": None}).on_request(GuardRequest(np.zeros((1, 4))))
        == Decision.allow()
    )


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(UsageError, match=r"^policy: stage ratelimit: per_key\.rate: .*greater"):
        RateLimitStage.from_options({"per_key": {"rate": 0, "burst": 1}})
    with pytest.raises(UsageError, match=r"^policy: stage ratelimit: backend: Input should be"):
        RateLimitStage.from_options({"backend": "disk"})


def test_bucket_state_is_bounded() -> None:
    stage = _stage(max_tracked=5)
    for i in range(50):
        _call(stage, float(i), client=f"client-{i}")
    assert len(_memory(stage)) == 5


# --- concurrency --------------------------------------------------------------------------


def test_threads_never_take_more_than_the_bucket_holds() -> None:
    stage = _stage(
        per_key={"rate": 1.0, "burst": 40.0}, **{"global": {"rate": 1.0, "burst": 100.0}}
    )
    allowed: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        key = f"k{index % 4}.s"  # 4 keys over 8 threads
        mine = sum(_call(stage, 7.0, key).action is Action.ALLOW for _ in range(30))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 100  # 4 keys x 40 > 100: the global bucket is the binding one
    assert _memory(stage).level(Bucket("global", 1.0, 100.0), 7.0) == 0.0


# --- behind auth, around a real model -----------------------------------------------------


def test_auth_then_ratelimit_around_a_real_model(wine: WineCase) -> None:
    key, entry = api_key("client-app", "scores")
    policy = parse_policy(
        {
            "stages": [
                {"name": "auth", "options": {"keys": [entry]}},
                {
                    "name": "ratelimit",
                    "options": {"per_key": {"rate": 1e-6, "burst": 3}, "global": None},
                },
                {"name": "validate"},
            ]
        }
    )
    guarded = GuardedModel(wine.model, policy, wine.spec, stages=BUILTIN_STAGES)
    x = wine.x[::10]
    for _ in range(3):
        np.testing.assert_array_equal(guarded.predict(x, key=key), wine.model.predict(x))
    with pytest.raises(GuardBlocked, match=r"^blocked by ratelimit: per_key rate limit") as info:
        guarded.predict(x, key=key)
    assert info.value.status == 429
    assert info.value.events[0].data["retry_after"] > 1e5
    with pytest.raises(GuardBlocked, match="blocked by auth: invalid API key"):
        guarded.predict(x, key="client-app.wrong")  # auth runs first: no bucket is touched
