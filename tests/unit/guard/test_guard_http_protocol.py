"""The HTTP guard's protocol and plumbing without a server: request parsing, answer
rendering and validation, error bodies, the bounded body read, the circuit breaker on a
fake clock, settings checks and the metrics registry."""

from __future__ import annotations

import json
from typing import Any

import anyio
import numpy as np
import pytest

from redwatch.exceptions import UsageError
from redwatch.guard.http.asgi import Message, api_key, client_id, read_body
from redwatch.guard.http.metrics import GuardMetrics
from redwatch.guard.http.protocol import (
    HttpError,
    error_body,
    is_json_media,
    method_of,
    parse_answer,
    parse_instances,
    render_answer,
    require_usable,
    retry_after,
)
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.http.upstream import CircuitBreaker
from redwatch.guard.stage import Action, GuardEvent, GuardResponse


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _refused(call: Any, status: int) -> str:
    with pytest.raises(HttpError) as info:
        call()
    assert info.value.status == status, info.value.message
    assert "\n" not in info.value.message
    return info.value.message


# --- requests -------------------------------------------------------------------------------


def test_instances_parse_to_a_float_matrix() -> None:
    rows = parse_instances(b'{"instances": [[1, 2.5, -3], [4, 5, 6e2]], "extra": 1}')
    assert rows.dtype == np.float64
    np.testing.assert_array_equal(rows, [[1, 2.5, -3], [4, 5, 600]])


def test_nan_and_infinity_literals_pass_to_the_stages() -> None:
    rows = parse_instances(b'{"instances": [[NaN, Infinity, -Infinity, 1e999]]}')
    assert np.isnan(rows[0, 0])
    assert np.isposinf(rows[0, 1])
    assert np.isneginf(rows[0, 2])
    assert np.isposinf(rows[0, 3])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b"[[1, 2]]", "JSON object"),
        (b'{"rows": [[1]]}', 'no "instances"'),
        (b'{"instances": []}', "non-empty list"),
        (b'{"instances": {"a": 1}}', "non-empty list"),
        (b'{"instances": [1, 2, 3]}', "list of rows"),
        (b'{"instances": [[1, 2], [3]]}', "same number"),
        (b'{"instances": [[[1]], [[2]]]}', "list of rows"),
        (b'{"instances": [[]]}', "no values"),
        (b'{"instances": [["1.5", 2]]}', "only numbers"),
        (b'{"instances": [[null, 2]]}', "only numbers"),
        (b'{"instances": [[true, 2.0]]}', "only numbers"),
        (b'{"instances": [[false]]}', "only numbers"),
        (b'{"instances": [[{"a": 1}]]}', "only numbers"),
    ],
)
def test_malformed_requests_are_400_with_a_reason(body: bytes, words: str) -> None:
    assert words in _refused(lambda: parse_instances(body), 400)


def test_strings_that_merely_contain_true_are_still_refused() -> None:
    _refused(lambda: parse_instances(b'{"instances": [["true"]]}'), 400)
    rows = parse_instances(b'{"instances": [[1]], "note": "true"}')
    assert rows.shape == (1, 1)


def test_rows_a_stage_let_through_must_still_be_usable() -> None:
    require_usable(np.ones((2, 3)), 3)
    assert "expects 4" in _refused(lambda: require_usable(np.ones((2, 3)), 4), 400)
    assert "shape" in _refused(lambda: require_usable(np.ones((0, 3))), 400)
    bad = np.ones((3, 2))
    bad[2, 1] = np.inf
    assert "first: row 2" in _refused(lambda: require_usable(bad), 422)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (None, True),
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/vnd.api+json", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
    ],
)
def test_json_media_types(value: str | None, ok: bool) -> None:
    assert is_json_media(value) is ok


def test_method_follows_the_last_path_segment() -> None:
    assert method_of("/predict_proba") == "predict_proba"
    assert method_of("/v1/models/x/predict_proba/") == "predict_proba"
    assert method_of("/predict") == "predict"
    assert method_of("/score") == "predict"


# --- answers --------------------------------------------------------------------------------


def test_answers_render_labels_probabilities_and_classes_as_plain_json() -> None:
    response = GuardResponse(
        labels=np.array(["b", "a"]),
        proba=np.array([[0.25, 0.75], [0.5, 0.5]]),
        classes=np.array(["a", "b"]),
    )
    assert json.loads(render_answer(response, "predict")) == {"labels": ["b", "a"]}
    assert json.loads(render_answer(response, "predict_proba")) == {
        "labels": ["b", "a"],
        "probabilities": [[0.25, 0.75], [0.5, 0.5]],
        "classes": ["a", "b"],
    }
    ints = GuardResponse(labels=np.array([np.int64(2)]))
    assert render_answer(ints, "predict") == b'{"labels":[2]}'


def test_upstream_answers_round_trip() -> None:
    raw = b'{"probabilities": [[0.1, 0.9], [0.8, 0.2]], "classes": [3, 7]}'
    answer = parse_answer(raw, 2, "predict_proba")
    assert answer.labels.tolist() == [7, 3]
    assert answer.classes is not None
    assert answer.classes.tolist() == [3, 7]
    assert parse_answer(b'{"probabilities": [[0.1, 0.9]]}', 1, "predict_proba").labels == [1]
    labelled = parse_answer(b'{"labels": ["cat", "dog"]}', 2, "predict")
    assert labelled.labels.tolist() == ["cat", "dog"]
    assert labelled.proba is None


@pytest.mark.parametrize(
    ("raw", "method", "words"),
    [
        (b"<html>oops</html>", "predict", "upstream answer is not JSON"),
        (b"[1, 2]", "predict", "not a JSON object"),
        (b'{"labels": [1, 2]}', "predict_proba", "upstream answer has no probabilities"),
        (b'{"probabilities": [[1.0]]}', "predict", "upstream answer has no labels"),
        (b'{"labels": [1]}', "predict", "answered 1 labels where 2 were due"),
        (b'{"labels": [[1], [2]]}', "predict", "not a list of numbers or strings"),
        (b'{"labels": [1, NaN]}', "predict", "NaN"),
        (b'{"probabilities": [[0.5, 0.5]]}', "predict_proba", "answered 1 rows for 2"),
        (b'{"probabilities": [[0.5, 0.5], [1.0]]}', "predict_proba", "not a matrix"),
        (b'{"probabilities": [[0.5, NaN], [1, 0]]}', "predict_proba", "NaN or infinite"),
        (b'{"probabilities": [[7, -6], [1, 0]]}', "predict_proba", "outside [0, 1]"),
        (b'{"probabilities": [["a", "b"], [1, 0]]}', "predict_proba", "not a matrix"),
        (b'{"probabilities": [[0, 1], [1, 0]], "classes": [1]}', "predict_proba", "classes"),
    ],
)
def test_garbage_answers_are_502_naming_the_problem(raw: bytes, method: str, words: str) -> None:
    assert words in _refused(lambda: parse_answer(raw, 2, method), 502)


def test_error_body_is_one_capped_line() -> None:
    body = json.loads(error_body("first line\nTraceback (most recent call last)", 422, "detect"))
    assert body == {"error": "first line", "status": 422, "stage": "detect"}
    long = json.loads(error_body("x" * 5000, 400))
    assert len(long["error"]) <= 300
    assert long["stage"] == "proxy"


def test_retry_after_is_the_longest_wait_in_whole_seconds() -> None:
    def event(**data: Any) -> GuardEvent:
        return GuardEvent("ratelimit", "rate_limited", Action.BLOCK, "slow down", data=data)

    assert retry_after([event(retry_after=0.2)]) == 1
    assert retry_after([event(retry_after=2.1), event(retry_after=0.5)]) == 3
    assert retry_after([event(), event(retry_after="soon")]) == 1


# --- request plumbing -----------------------------------------------------------------------


def _scope(*headers: tuple[str, str], client: tuple[str, int] | None = ("1.2.3.4", 9)) -> Any:
    return {
        "type": "http",
        "headers": [(k.encode(), v.encode()) for k, v in headers],
        "client": client,
    }


def test_client_and_key_come_from_the_connection_and_headers() -> None:
    assert client_id(_scope()) == "ip:1.2.3.4"
    assert client_id(_scope(client=None)) == "ip:unknown"
    assert api_key(_scope(("authorization", "Bearer svc.abc"))) == "svc.abc"
    assert api_key(_scope(("authorization", "bearer  svc.abc "))) == "svc.abc"
    assert api_key(_scope(("x-api-key", "svc.xyz"))) == "svc.xyz"
    assert api_key(_scope(("authorization", "Basic dXNlcg=="))) is None
    assert api_key(_scope(("x-api-key", "  "))) is None
    assert api_key(_scope()) is None


class _Client:
    """An ASGI receive that sends the given chunks, pausing `pause` seconds before each."""

    def __init__(self, chunks: list[bytes], pause: float = 0.0) -> None:
        self.chunks = list(chunks)
        self.pause = pause
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        await anyio.sleep(self.pause)
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}


@pytest.mark.anyio
async def test_body_is_read_in_chunks_up_to_the_cap() -> None:
    body = await read_body(_scope(), _Client([b'{"inst', b'ances": []}']), 100, 5.0)
    assert body == b'{"instances": []}'


@pytest.mark.anyio
async def test_declared_oversized_body_is_413_before_reading() -> None:
    receive = _Client([b"x" * 10])
    with pytest.raises(HttpError) as info:
        await read_body(_scope(("content-length", "101")), receive, 100, 5.0)
    assert info.value.status == 413
    assert receive.calls == 0


@pytest.mark.anyio
async def test_chunked_bodies_are_counted_while_reading() -> None:
    receive = _Client([b"x" * 60, b"x" * 60, b"x" * 60])
    with pytest.raises(HttpError) as info:
        await read_body(_scope(), receive, 100, 5.0)
    assert info.value.status == 413
    assert receive.calls == 2


@pytest.mark.anyio
async def test_a_slow_client_is_cut_off_with_408() -> None:
    with pytest.raises(HttpError) as info:
        await read_body(_scope(), _Client([b"{}"], pause=30.0), 100, 0.05)
    assert info.value.status == 408


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "chunks", "status"),
    [
        ((("content-type", "text/plain"),), [b"{}"], 415),
        ((("content-length", "ten"),), [b"{}"], 400),
        ((), [], 400),  # the client leaves before its body is complete
    ],
)
async def test_other_body_refusals(
    headers: tuple[tuple[str, str], ...], chunks: list[bytes], status: int
) -> None:
    with pytest.raises(HttpError) as info:
        await read_body(_scope(*headers), _Client(chunks), 100, 5.0)
    assert info.value.status == status


# --- circuit breaker ------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_n_consecutive_failures_and_tries_once_after_reset() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(3, 10.0, clock)
    for _ in range(2):
        breaker.acquire()
        breaker.failure()
    breaker.acquire()
    breaker.success()  # a success resets the count
    for _ in range(3):
        assert breaker.state == "closed"
        breaker.acquire()
        breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(HttpError) as info:
        breaker.acquire()
    assert info.value.status == 503
    assert info.value.retry_after == 10
    clock.now += 7.5
    with pytest.raises(HttpError) as info:
        breaker.acquire()
    assert info.value.retry_after == 3
    clock.now += 2.5
    assert breaker.state == "half-open"
    breaker.acquire()  # the one trial
    with pytest.raises(HttpError):
        breaker.acquire()  # nobody else while it is out
    breaker.failure()  # the trial failed: open again, for a full reset period
    assert breaker.state == "open"
    clock.now += 10.0
    breaker.acquire()
    breaker.success()
    assert breaker.state == "closed"
    breaker.acquire()


def test_an_abandoned_trial_frees_the_next_one() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(1, 1.0, clock)
    breaker.acquire()
    breaker.failure()
    clock.now += 1.0
    breaker.acquire()
    breaker.abandon()
    breaker.acquire()
    assert breaker.state == "half-open"


# --- settings and metrics -------------------------------------------------------------------


def test_settings_defaults_and_checks() -> None:
    settings = ProxySettings()
    assert (settings.max_body_bytes, settings.body_timeout_s) == (1024 * 1024, 10.0)
    assert (settings.connect_timeout_s, settings.upstream_timeout_s) == (2.0, 10.0)
    assert (settings.breaker_failures, settings.breaker_reset_s) == (5, 10.0)
    assert settings.check() is settings
    with pytest.raises(UsageError, match="body_timeout_s must be positive"):
        ProxySettings(body_timeout_s=0).check()
    with pytest.raises(UsageError, match="breaker_reset_s must be positive"):
        ProxySettings(breaker_reset_s=float("nan")).check()


def test_metrics_have_their_own_registry_and_bounded_path_labels() -> None:
    first, second = GuardMetrics(), GuardMetrics()
    first.request("/predict", 200, 0.001, 0.002)
    first.request("/wp-admin/../etc/passwd", 404)
    first.observe([GuardEvent("auth", "auth_failed", Action.BLOCK, "no key")])
    first.set_state("open")
    text = first.render().decode()
    assert 'redwatch_guard_requests_total{path="/predict",status="200"} 1.0' in text
    assert 'redwatch_guard_requests_total{path="other",status="404"} 1.0' in text
    assert "passwd" not in text
    assert 'redwatch_guard_upstream_seconds_count{path="/predict"} 1.0' in text
    assert 'redwatch_guard_overhead_seconds_count{path="/predict"} 1.0' in text
    assert 'redwatch_guard_events_total{action="block",kind="auth_failed",stage="auth"} 1.0' in text
    assert 'redwatch_guard_upstream_state{state="open"} 1.0' in text
    assert 'redwatch_guard_upstream_state{state="closed"} 0.0' in text
    assert "redwatch_guard_requests_total{" not in second.render().decode()
