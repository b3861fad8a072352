"""ratelimit with `backend: redis` against a real redis-server: two replicas share limits,
concurrent threads never over-admit, refill matches the in-memory backend exactly, idle
buckets expire, and an unreachable or killed server is handled as documented."""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _redis_server import RedisServer, free_port, start_redis
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.exceptions import UsageError
from redwatch.guard import Action, Decision, GuardBlocked, GuardedModel, GuardRequest, parse_policy
from redwatch.guard.buckets import Bucket, MemoryBackend
from redwatch.guard.redis_backend import RedisBackend, idle_ttl_ms
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.guard.stages.ratelimit import RateLimitStage
from redwatch.targets.spec import InputSpec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One server for this module's tests, stopped and deleted at the end."""
    base = Path(tempfile.mkdtemp(prefix="redwatch-redis-"))
    server = start_redis(base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own for each test, so that tests never share buckets."""
    return f"rwtest:{uuid.uuid4().hex[:10]}:"


def _stage(url: str, prefix: str, **options: Any) -> RateLimitStage:
    raw = {"backend": "redis", "redis_url": url, "key_prefix": prefix, **options}
    stage = RateLimitStage.from_options(raw)
    assert isinstance(stage, RateLimitStage)
    return stage


def _call(stage: RateLimitStage, t: float, key: str = "app.secret") -> Decision:
    return stage.on_request(GuardRequest(np.zeros((1, 4)), "ip:10.0.0.9", key, 0, t))


# --- shared limits ------------------------------------------------------------------------


def test_two_replicas_share_one_key_limit(redis_server: RedisServer, prefix: str) -> None:
    x, y = load_wine(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=0))
    model.fit(x, y)
    spec = InputSpec.from_data(x)
    policy = parse_policy(
        {
            "stages": [
                {
                    "name": "ratelimit",
                    "options": {
                        "backend": "redis",
                        "redis_url": redis_server.url,
                        "key_prefix": prefix,
                        "per_key": {"rate": 0.001, "burst": 5},
                        "global": None,
                    },
                },
                {"name": "validate"},
            ]
        }
    )
    replicas = [GuardedModel(model, policy, spec, stages=BUILTIN_STAGES) for _ in "ab"]
    for replica in replicas:
        replica.build()
    for _ in range(5):
        replicas[0].predict(x[:2], key="client-app.secret")
    with pytest.raises(GuardBlocked) as blocked:
        replicas[1].predict(x[:2], key="client-app.secret")
    assert (blocked.value.status, blocked.value.stage) == (429, "ratelimit")
    assert blocked.value.events[-1].data["bucket"] == "per_key"
    assert replicas[1].predict(x[:2], key="other-app.secret").shape == (2,)


def test_the_global_bucket_is_shared_too(redis_server: RedisServer, prefix: str) -> None:
    limits = {"per_key": None, "global": {"rate": 0.001, "burst": 3}}
    a, b = _stage(redis_server.url, prefix, **limits), _stage(redis_server.url, prefix, **limits)
    results = [_call(stage, 0.0, f"k{i}.s").action for i, stage in enumerate([a, b, a, b])]
    assert results == [Action.ALLOW] * 3 + [Action.BLOCK]


def test_threads_on_two_replicas_never_over_admit(redis_server: RedisServer, prefix: str) -> None:
    limits = {"per_key": {"rate": 0.001, "burst": 40}, "global": {"rate": 0.001, "burst": 100}}
    replicas = [_stage(redis_server.url, prefix, **limits) for _ in range(2)]
    allowed: dict[str, int] = {}
    lock = threading.Lock()

    def worker(index: int) -> None:
        stage, key = replicas[index % 2], f"k{index % 4}.s"
        mine = sum(_call(stage, 7.0, key).action is Action.ALLOW for _ in range(30))
        with lock:
            allowed[key] = allowed.get(key, 0) + mine

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed.values()) == 100  # 4 keys x 40 > 100: the global bucket binds
    assert max(allowed.values()) <= 40
    level = redis_server.client().hget(f"{prefix}global", "t")
    assert level is not None
    assert float(level) == 0.0


# --- bucket math --------------------------------------------------------------------------


def test_refill_and_refusals_match_the_memory_backend(
    redis_server: RedisServer, prefix: str
) -> None:
    """The same seeded sequence of calls (several buckets, time sometimes running back)
    gets exactly the same answers from Redis as from the in-memory backend."""
    shared = RedisBackend(redis_server.url, key_prefix=prefix)
    local = MemoryBackend()
    buckets = [Bucket("a", 2.0, 4.0), Bucket("b", 0.5, 3.0), Bucket("global", 3.0, 6.0)]
    rng = np.random.default_rng(3)
    now = 100.0
    try:
        for _ in range(300):
            now += float(rng.choice([0.0, 0.1, 0.37, 1.0, -0.5]))
            chosen = [b for b in buckets if rng.random() < 0.6] or buckets[:1]
            cost = float(rng.choice([1.0, 1.0, 2.0, 0.5]))
            assert shared.take(chosen, cost, now) == local.take(chosen, cost, now)
    finally:
        shared.close()


def test_idle_buckets_expire_after_burst_over_rate(redis_server: RedisServer, prefix: str) -> None:
    backend = RedisBackend(redis_server.url, key_prefix=prefix)
    client = redis_server.client()
    slow, fast = Bucket("slow", 0.01, 5.0), Bucket("fast", 200.0, 1.0)
    try:
        assert backend.take([slow], 1.0, 0.0) is None
        assert 0 < client.pttl(f"{prefix}slow") <= idle_ttl_ms(slow) == 500_000
        assert backend.take([fast], 1.0, 0.0) is None
        assert idle_ttl_ms(fast) == 5
        assert _gone(client, f"{prefix}fast")
        assert backend.take([fast], 1.0, 0.0) is None  # forgotten means full again
    finally:
        backend.close()


def _gone(client: Any, key: str) -> bool:
    """Wait (at most 5 s) for Redis to expire `key`."""
    for _ in range(500):
        if not client.exists(key):
            return True
        threading.Event().wait(0.01)
    return False


# --- an unreachable server ----------------------------------------------------------------


def test_build_fails_in_one_line_when_redis_is_unreachable(prefix: str) -> None:
    url = f"redis://:hunter2-password@127.0.0.1:{free_port()}/0"
    with pytest.raises(UsageError) as error:
        _stage(url, prefix)
    message = str(error.value)
    assert message.startswith("stage ratelimit: cannot reach redis at redis://:***@127.0.0.1:")
    assert "hunter2" not in message
    assert "\n" not in message
    with pytest.raises(UsageError, match=r"^stage ratelimit: backend redis needs one of"):
        RateLimitStage.from_options({"backend": "redis"})
    with pytest.raises(UsageError, match=r"^stage ratelimit: redis_url needs backend: redis"):
        RateLimitStage.from_options({"redis_url": url})


def test_url_from_the_environment(
    redis_server: RedisServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RW_TEST_REDIS_URL", redis_server.url)
    stage = RateLimitStage.from_options(
        {"backend": "redis", "redis_url_env": "RW_TEST_REDIS_URL", "key_prefix": prefix}
    )
    assert isinstance(stage, RateLimitStage)
    assert isinstance(stage.backend, RedisBackend)
    monkeypatch.delenv("RW_TEST_REDIS_URL")
    with pytest.raises(UsageError, match=r"environment variable RW_TEST_REDIS_URL"):
        RateLimitStage.from_options({"backend": "redis", "redis_url_env": "RW_TEST_REDIS_URL"})


@pytest.fixture
def doomed_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of its own for a test that kills it."""
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


def test_a_killed_server_falls_back_to_local_buckets_then_recovers(
    doomed_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    limits = {"per_key": {"rate": 0.001, "burst": 2}, "global": None, "backend_retry_s": 1.0}
    stage = _stage(doomed_server.url, prefix, **limits)
    assert [_call(stage, 0.0).action for _ in range(3)] == [Action.ALLOW] * 2 + [Action.BLOCK]
    doomed_server.stop()
    first = _call(stage, 1.0)  # redis fails: local buckets (full) from now on, one event
    assert first.action is Action.ALLOW
    assert [e.kind for e in first.events] == ["backend_unavailable"]
    assert first.events[0].data == {"backend": "redis", "fallback": "local", "retry_s": 1.0}
    second, third = _call(stage, 1.5), _call(stage, 1.6)  # within retry_s: redis not asked
    assert (second.action, second.events) == (Action.ALLOW, ())
    assert third.status == 429  # the local bucket still limits this replica
    revived = start_redis(tmp_path / "again", port=doomed_server.port)  # empty, but back
    try:
        back = _call(stage, 3.0)
    finally:
        revived.stop()
    assert back.action is Action.ALLOW
    assert [e.kind for e in back.events] == ["backend_restored"]
    assert back.events[0].data["down_s"] == 2.0


@pytest.mark.parametrize(("mode", "expected"), [("allow", Action.ALLOW), ("block", Action.BLOCK)])
def test_fail_open_and_fail_closed_are_options(
    doomed_server: RedisServer, prefix: str, mode: str, expected: Action
) -> None:
    limits = {"per_key": {"rate": 0.001, "burst": 1}, "global": None}
    stage = _stage(doomed_server.url, prefix, on_backend_error=mode, **limits)
    doomed_server.stop()
    decisions = [_call(stage, float(t)) for t in range(3)]
    assert [d.action for d in decisions] == [expected] * 3
    assert decisions[0].events[0].kind == "backend_unavailable"
    if mode == "block":
        assert decisions[0].status == 429
        assert decisions[0].reason == "rate-limit store unavailable; retry after 5 s"
