"""The reverse proxy in-process: the wine model behind model_app (through an in-process
transport, a closed loopback port, or a raw socket server that never answers), and the demo
credit model served locally. Statuses, one-line JSON errors, events, metrics, breaker."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest
from _guard_http import (
    Recording,
    assert_error,
    client_of,
    closed_port,
    instances,
    wine_pipeline,
)
from _guard_keys import api_key
from _guard_models import WineCase, wine_case
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from redwatch.exceptions import UsageError
from redwatch.guard import Decision, GuardEvent, GuardRequest, GuardStage
from redwatch.guard.context import StageContext
from redwatch.guard.http import ProxySettings, build_proxy_app, model_app
from redwatch.guard.http.proxy import proxy_app
from redwatch.guard.http.upstream import CircuitBreaker, Upstream
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.policy import default_policy
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.targets.spec import InputSpec

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def wine() -> WineCase:
    return wine_case()


class _Sink:
    """An event sink that keeps every batch."""

    def __init__(self) -> None:
        self.batches: list[list[GuardEvent]] = []

    def __call__(self, events: list[GuardEvent]) -> None:
        self.batches.append(list(events))

    @property
    def events(self) -> list[GuardEvent]:
        return [e for batch in self.batches for e in batch]


def _in_process(model: Any, settings: ProxySettings | None = None) -> Upstream:
    """An Upstream whose network is model_app(model) in this process."""
    transport = httpx.ASGITransport(app=model_app(model))
    return Upstream("http://model", settings, transport=transport)


def _raw_upstream(handler: Callable[[Request], Response]) -> Upstream:
    """An Upstream that is a tiny hand-written app (garbage answers, failures)."""

    async def endpoint(request: Request) -> Response:
        await request.body()
        return handler(request)

    app = Starlette(routes=[Route("/{method}", endpoint, methods=["POST"])])
    return Upstream("http://model", transport=httpx.ASGITransport(app=app))


# --- the happy path --------------------------------------------------------------------------


async def test_clean_calls_match_the_model_with_rounded_probabilities(wine: WineCase) -> None:
    sink = _Sink()
    app = proxy_app(wine_pipeline(), _in_process(wine.model), sink=sink)
    x = wine.x[::9]
    async with client_of(app) as client:
        labels = await client.post("/predict", json=instances(x))
        proba = await client.post("/predict_proba", json=instances(x))
        health = await client.get("/healthz")
    assert labels.status_code == 200
    assert labels.json() == {"labels": wine.model.predict(x).tolist()}
    answer = proba.json()
    assert answer["classes"] == [0, 1, 2]
    np.testing.assert_allclose(answer["probabilities"], np.round(wine.model.predict_proba(x), 4))
    assert answer["labels"] == wine.model.predict(x).tolist()
    assert health.json() == {"status": "ok", "upstream": "closed"}
    assert {e.kind for e in sink.events} == {"output_hardened"}
    assert {e.client for e in sink.events} == {"ip:10.1.2.3"}


async def test_sanitised_rows_are_what_the_model_sees(wine: WineCase) -> None:
    sink = _Sink()
    recording = Recording(wine.model)
    app = proxy_app(wine_pipeline(), _in_process(recording), sink=sink)
    row = wine.x[0].copy()
    row[0] = 99.0  # alcohol far above anything in the data
    row[4] = 100.4  # magnesium is a whole number
    async with client_of(app) as client:
        answer = await client.post("/predict", json=instances([row]))
    assert answer.status_code == 200
    seen = recording.seen[-1][0]
    assert seen[0] == wine.spec.upper[0]
    assert seen[4] == 100.0
    np.testing.assert_array_equal(np.delete(seen, [0, 4]), np.delete(row, [0, 4]))
    assert [e.kind for e in sink.events] == ["spec_violation", "sanitized"]


async def test_output_stages_change_the_answer(wine: WineCase) -> None:
    stages = [{"name": "output", "options": {"top_k": 1, "decimals": 2}}]
    app = proxy_app(wine_pipeline(stages), _in_process(wine.model))
    x = wine.x[::20]
    async with client_of(app) as client:
        answer = (await client.post("/predict_proba", json=instances(x))).json()
    proba = np.asarray(answer["probabilities"])
    raw = wine.model.predict_proba(x)
    assert ((proba > 0).sum(axis=1) == 1).all()
    assert (proba.argmax(axis=1) == raw.argmax(axis=1)).all()
    assert not np.allclose(proba, raw)


async def test_local_model_mode_with_the_demo_credit_model() -> None:
    from redwatch.demo.models import train_credit_gbm

    demo = train_credit_gbm(seed=0, n_estimators=20)
    spec = InputSpec.from_data(demo.x_train, list(demo.feature_names))
    pipeline = GuardPipeline(default_policy(), StageContext(spec=spec), BUILTIN_STAGES)
    app = build_proxy_app(pipeline, model=demo.model)
    x = demo.x_test[:25]
    async with client_of(app) as client:
        proba = await client.post("/predict_proba", json=instances(x))
        health = await client.get("/healthz")
        short = await client.post("/predict", json=instances(x[:, :2]))
    expected = np.round(demo.model.predict_proba(x), 4)
    np.testing.assert_allclose(proba.json()["probabilities"], expected, atol=1e-6)
    assert proba.json()["labels"] == demo.model.predict(x).tolist()
    assert health.json() == {"status": "ok", "upstream": "local"}
    assert "expects 3" in assert_error(short, 400, "validate")


# --- protocol errors -------------------------------------------------------------------------


async def test_protocol_errors_map_to_their_status(wine: WineCase) -> None:
    sink = _Sink()
    settings = ProxySettings(max_body_bytes=4096)
    app = proxy_app(wine_pipeline(), _in_process(wine.model), sink=sink, settings=settings)
    good = json.dumps(instances(wine.x[:1]))
    nan_row = '{"instances": [[NaN' + ", 1" * 12 + "]]}"
    async with client_of(app) as client:
        checks = [
            (await client.post("/predict", content=b"{nope"), 400, "proxy"),
            (await client.post("/predict", json={"instances": [[1.0, 2.0]]}), 400, "validate"),
            (await client.post("/predict", json={"instances": [[1], [1, 2]]}), 400, "proxy"),
            (
                await client.post("/predict", content=good, headers={"content-type": "text/plain"}),
                415,
                "proxy",
            ),
            (await client.post("/predict", content=b"[" * 5000), 413, "proxy"),
            (await client.post("/predict", content=nan_row), 422, "validate"),
            (await client.get("/predict"), 405, "proxy"),
            (await client.post("/admin"), 404, "proxy"),
        ]
    for response, status, stage in checks:
        assert_error(response, status, stage)
    kinds = [(e.stage, e.kind) for e in sink.events]
    assert kinds == [
        ("proxy", "bad_request"),
        ("validate", "invalid_input"),
        ("proxy", "bad_request"),
        ("proxy", "unsupported_media_type"),
        ("proxy", "payload_too_large"),
        ("validate", "invalid_input"),
    ]


async def test_non_finite_rows_are_refused_even_without_validate(wine: WineCase) -> None:
    recording = Recording(wine.model)
    app = proxy_app(wine_pipeline([]), _in_process(recording))
    body = '{"instances": [[Infinity' + ", 1" * 12 + "]]}"
    async with client_of(app) as client:
        response = await client.post("/predict", content=body)
    assert "NaN or infinite" in assert_error(response, 422)
    assert recording.seen == []


async def test_chunked_oversized_body_is_413(wine: WineCase) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    settings = ProxySettings(max_body_bytes=4096)
    app = proxy_app(wine_pipeline(), _in_process(wine.model), settings=settings)
    async with client_of(app) as client:
        response = await client.post("/predict", content=chunks())
    assert "cap of 4096" in assert_error(response, 413)


async def test_a_client_too_slow_with_its_body_gets_408(wine: WineCase) -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield b'{"instances": '
        await asyncio.sleep(30)
        yield b"[[1]]}"

    sink = _Sink()
    settings = ProxySettings(body_timeout_s=0.1)
    app = proxy_app(wine_pipeline(), _in_process(wine.model), sink=sink, settings=settings)
    async with client_of(app) as client:
        response = await client.post("/predict", content=slow())
    assert_error(response, 408)
    assert [(e.stage, e.kind, e.data) for e in sink.events] == [
        ("proxy", "client_timeout", {"status": 408})
    ]


# --- auth, rate limits, metrics ------------------------------------------------------------


async def test_auth_refuses_without_a_key_and_metrics_count_it(wine: WineCase) -> None:
    key, entry = api_key("svc", "labels")
    stages = [
        {"name": "auth", "options": {"keys": [entry]}},
        {"name": "ratelimit", "options": {"per_key": {"rate": 0.001, "burst": 2}}},
    ]
    sink = _Sink()
    app = proxy_app(wine_pipeline(stages), _in_process(wine.model), sink=sink)
    body = instances(wine.x[:2])
    async with client_of(app) as client:
        missing = await client.post("/predict", json=body)
        wrong = await client.post("/predict", json=body, headers={"x-api-key": key + "x"})
        bearer = await client.post(
            "/predict", json=body, headers={"authorization": f"Bearer {key}"}
        )
        header = await client.post("/predict", json=body, headers={"x-api-key": key})
        role = await client.post("/predict_proba", json=body, headers={"x-api-key": key})
        limited = await client.post("/predict", json=body, headers={"x-api-key": key})
        metrics = (await client.get("/metrics")).text
    assert_error(missing, 401, "auth")
    assert_error(wrong, 401, "auth")
    assert bearer.status_code == 200
    assert header.status_code == 200
    assert_error(role, 403, "auth")
    assert_error(limited, 429, "ratelimit")
    assert int(limited.headers["retry-after"]) > 100  # 1 token per 1000 s
    assert 'redwatch_guard_requests_total{path="/predict",status="401"} 2.0' in metrics
    assert 'redwatch_guard_requests_total{path="/predict",status="200"} 2.0' in metrics
    assert 'redwatch_guard_requests_total{path="/predict",status="429"} 1.0' in metrics
    line = 'redwatch_guard_events_total{action="block",kind="auth_failed",stage="auth"} 2.0'
    assert line in metrics
    assert all(key not in json.dumps(e.to_dict()) for e in sink.events)


# --- upstream failures -----------------------------------------------------------------------


async def test_upstream_refusing_connections_is_502_then_the_breaker_opens(
    wine: WineCase,
) -> None:
    sink = _Sink()
    settings = ProxySettings(breaker_failures=3, breaker_reset_s=60, connect_timeout_s=1)
    url = f"http://127.0.0.1:{closed_port()}"
    app = build_proxy_app(wine_pipeline(), upstream=url, sink=sink, settings=settings)
    body = instances(wine.x[:1])
    async with client_of(app) as client:
        down = [await client.post("/predict", json=body) for _ in range(3)]
        refused = await client.post("/predict", json=body)
        health = await client.get("/healthz")
        metrics = (await client.get("/metrics")).text
    for response in down:
        assert "upstream unreachable" in assert_error(response, 502)
    assert "circuit breaker is open" in assert_error(refused, 503)
    assert 50 <= int(refused.headers["retry-after"]) <= 60
    assert health.json() == {"status": "ok", "upstream": "open"}
    assert 'redwatch_guard_upstream_state{state="open"} 1.0' in metrics
    assert [e.kind for e in sink.events] == ["upstream_error"] * 3 + ["circuit_open"]


async def test_breaker_recovers_after_a_successful_trial(wine: WineCase) -> None:
    failing = {"on": True}
    inner = model_app(wine.model)

    async def flaky(scope: Any, receive: Any, send: Any) -> None:
        if failing["on"]:
            await Response(b"boom", 500)(scope, receive, send)
        else:
            await inner(scope, receive, send)

    upstream = Upstream("http://model", transport=httpx.ASGITransport(app=flaky))
    now = [0.0]
    upstream.breaker = CircuitBreaker(2, 30.0, lambda: now[0])
    app = proxy_app(wine_pipeline(), upstream)
    body = instances(wine.x[:1])
    async with client_of(app) as client:
        first = [await client.post("/predict", json=body) for _ in range(2)]
        while_open = await client.post("/predict", json=body)
        now[0] = 31.0
        failing["on"] = False
        health_half = (await client.get("/healthz")).json()
        trial = await client.post("/predict", json=body)
        after = await client.post("/predict", json=body)
        health = (await client.get("/healthz")).json()
    assert ["upstream answered 500" in assert_error(r, 502) for r in first] == [True, True]
    assert_error(while_open, 503)
    assert health_half["upstream"] == "half-open"
    assert trial.status_code == 200
    assert after.status_code == 200
    assert health == {"status": "ok", "upstream": "closed"}


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (500, b"internal", "upstream answered 500"),
        (404, b"", "upstream answered 404"),
        (200, b"<html>", "upstream answer is not JSON"),
        (200, b'{"labels": [0]}', "upstream answer has no probabilities"),
        (200, b'{"probabilities": [[0.5, 0.5], [0.2, 0.8]]}', "answered 2 rows for 1"),
        (200, b'{"probabilities": [[NaN, 0.5]]}', "NaN or infinite"),
    ],
)
async def test_garbage_upstream_answers_are_502(
    wine: WineCase, status: int, body: bytes, words: str
) -> None:
    sink = _Sink()
    upstream = _raw_upstream(lambda request: Response(body, status))
    app = proxy_app(wine_pipeline(), upstream, sink=sink)
    async with client_of(app) as client:
        response = await client.post("/predict_proba", json=instances(wine.x[:1]))
    assert words in assert_error(response, 502)
    assert [(e.stage, e.kind) for e in sink.events] == [("proxy", "upstream_error")]


async def test_upstream_refusing_the_request_is_relayed(wine: WineCase) -> None:
    refusal = json.dumps({"error": "feature 3 is out of range", "status": 422, "stage": "x"})
    upstream = _raw_upstream(lambda request: Response(refusal.encode(), 422))
    app = proxy_app(wine_pipeline(), upstream)
    async with client_of(app) as client:
        response = await client.post("/predict", json=instances(wine.x[:1]))
    message = assert_error(response, 422)
    assert message == "upstream answered 422: feature 3 is out of range"
    assert upstream.state == "closed"
    assert upstream.breaker.count == 0


async def test_upstream_too_slow_is_504(wine: WineCase) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await release.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink = _Sink()
    settings = ProxySettings(upstream_timeout_s=0.2, connect_timeout_s=0.5)
    try:
        app = build_proxy_app(
            wine_pipeline(), upstream=f"http://127.0.0.1:{port}", sink=sink, settings=settings
        )
        async with client_of(app) as client:
            response = await client.post("/predict", json=instances(wine.x[:1]))
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    assert "did not answer within 0.2 s" in assert_error(response, 504)
    assert [e.kind for e in sink.events] == ["upstream_timeout"]


# --- crashes and build errors ----------------------------------------------------------------


class _Explodes(GuardStage):
    """A stage with a bug."""

    name: ClassVar[str] = "explodes"
    description: ClassVar[str] = "raises"

    def on_request(self, request: GuardRequest) -> Decision:
        raise RuntimeError("stage bug\nwith a second line")


async def test_a_stage_that_raises_is_a_logged_one_line_500(
    wine: WineCase, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _Sink()
    pipeline = wine_pipeline([{"name": "explodes"}], {"explodes": _Explodes})
    app = proxy_app(pipeline, _in_process(wine.model), sink=sink)
    with caplog.at_level(logging.ERROR, logger="redwatch.guard.http"):
        async with client_of(app) as client:
            response = await client.post("/predict", json=instances(wine.x[:1]))
            metrics = (await client.get("/metrics")).text
    assert assert_error(response, 500) == "internal error (see server log)"
    assert "stage bug" not in response.text
    assert any("stage bug" in (r.exc_text or "") for r in caplog.records)
    assert [(e.stage, e.kind) for e in sink.events] == [("proxy", "internal_error")]
    assert 'redwatch_guard_requests_total{path="/predict",status="500"} 1.0' in metrics


async def test_a_failing_sink_never_breaks_serving(
    wine: WineCase, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(events: list[GuardEvent]) -> None:
        raise OSError("disk full")

    app = proxy_app(wine_pipeline(), _in_process(wine.model), sink=broken)
    with caplog.at_level(logging.ERROR, logger="redwatch.guard.http"):
        async with client_of(app) as client:
            response = await client.post("/predict_proba", json=instances(wine.x[:1]))
    assert response.status_code == 200
    assert any("sink failed" in r.getMessage() for r in caplog.records)


def test_build_refuses_bad_combinations(wine: WineCase) -> None:
    pipeline = wine_pipeline()
    with pytest.raises(UsageError, match="exactly one"):
        build_proxy_app(pipeline)
    with pytest.raises(UsageError, match="exactly one"):
        build_proxy_app(pipeline, upstream="http://x", model=wine.model)
    with pytest.raises(UsageError, match="http"):
        build_proxy_app(pipeline, upstream="localhost:8000")
    with pytest.raises(UsageError, match="no predict"):
        build_proxy_app(pipeline, model=object())
    with pytest.raises(UsageError, match="max_body_bytes"):
        build_proxy_app(pipeline, model=wine.model, settings=ProxySettings(max_body_bytes=0))
    bad = wine_pipeline([{"name": "output", "options": {"decimals": -1}}])
    with pytest.raises(UsageError, match="stage output"):
        build_proxy_app(bad, model=wine.model)


# --- the bare model server -------------------------------------------------------------------


async def test_model_app_serves_the_protocol_unguarded(wine: WineCase) -> None:
    app = model_app(wine.model)
    x = wine.x[:3]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        proba = (await client.post("/predict_proba", json=instances(x))).json()
        labels = (await client.post("/predict", json=instances(x))).json()
        health = (await client.get("/healthz")).json()
        short = await client.post("/predict", json={"instances": [[1.0]]})
        nan = await client.post("/predict", content='{"instances": [[NaN' + ", 1" * 12 + "]]}")
        junk = await client.post("/predict", content=b"\x00\x01")
        missing = await client.get("/nothing")
    np.testing.assert_allclose(proba["probabilities"], wine.model.predict_proba(x))
    assert proba["classes"] == [0, 1, 2]
    assert labels == {"labels": wine.model.predict(x).tolist()}
    assert health["status"] == "ok"
    assert "expects 13" in assert_error(short, 400)
    assert_error(nan, 422)
    assert_error(junk, 400)
    assert_error(missing, 404)
