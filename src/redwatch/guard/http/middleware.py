"""GuardMiddleware: the guard inside an existing FastAPI/Starlette model server, as pure ASGI
(no BaseHTTPMiddleware: no extra task, no buffering of routes it does not guard).

On a guarded path it reads the body (bounded), runs the request stages, hands the app the
(possibly sanitised) rows as a new `{"instances": ...}` body, captures the app's answer,
runs the response stages on it and sends the result. Errors have the proxy's JSON bodies; an
answer the app itself refused (not 200) reaches the client unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

import numpy as np

from redwatch.guard.http.asgi import Message, Receive, Reply, Scope, Send, send_reply
from redwatch.guard.http.exchange import GuardExchange, Relay
from redwatch.guard.http.metrics import GuardMetrics
from redwatch.guard.http.protocol import method_of, parse_answer, request_body
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.model import EventSink
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.stage import GuardResponse

ASGIApp = Any
_REPLACED = (b"content-length", b"content-type", b"transfer-encoding")


class GuardMiddleware:
    """Guards POST calls to `paths` of `app` with `pipeline`; other paths, methods and
    websocket or lifespan traffic pass straight through. `metrics` (a GuardMetrics) may be
    shared with a route that serves it; one is made per middleware otherwise. The pipeline's
    stages are built on the first guarded call: build them before serving (`pipeline.stages`)
    to see a bad policy at start-up."""

    def __init__(
        self,
        app: ASGIApp,
        pipeline: GuardPipeline,
        *,
        paths: Iterable[str] = ("/predict", "/predict_proba"),
        sink: EventSink | None = None,
        settings: ProxySettings | None = None,
        metrics: GuardMetrics | None = None,
    ) -> None:
        self.app = app
        self.pipeline = pipeline
        self.paths = frozenset(paths)
        self.sink = sink
        self.settings = settings
        self.given_metrics = metrics

    @cached_property
    def metrics(self) -> GuardMetrics:
        """The metrics this middleware records into."""
        return self.given_metrics or GuardMetrics(self.paths)

    @cached_property
    def exchange(self) -> GuardExchange:
        """The guarded-call runner (stages built and checked on first use)."""
        _ = self.pipeline.stages
        limits = (self.settings or ProxySettings()).check()
        return GuardExchange(self.pipeline, self.sink, self.metrics, limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard the call when its path and method say so; pass it through otherwise."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def backend(rows: np.ndarray, method: str) -> GuardResponse:
            """The wrapped app, asked about the guarded rows."""
            return await self._ask_app(scope, receive, rows, method)

        reply = await self.exchange.handle(scope, receive, path, method_of(path), backend)
        await send_reply(send, reply)

    async def _ask_app(
        self, scope: Scope, receive: Receive, rows: np.ndarray, method: str
    ) -> GuardResponse:
        """Call the app with `rows` as its body; its 200 answer parsed (502 when unusable),
        anything else relayed unchanged."""
        body = request_body(rows)
        captured = _Capture()
        await self.app(_with_body_headers(scope, len(body)), _replay(body, receive), captured)
        if captured.status != 200:
            raise Relay(captured.reply())
        return parse_answer(captured.body(), rows.shape[0], method, "app")


def _with_body_headers(scope: Scope, length: int) -> Scope:
    """A copy of `scope` whose headers describe the new JSON body."""
    headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() not in _REPLACED]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {**scope, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that yields `body` once, then defers to the server (disconnects)."""
    pending = [body]

    async def replay() -> Message:
        """The new body first, the server's messages after."""
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay


class _Capture:
    """A send that keeps the app's response (status, headers, body) instead of sending it."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.parts: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        """Record one ASGI response message."""
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
        elif message["type"] == "http.response.body":
            self.parts.append(bytes(message.get("body", b"")))

    def body(self) -> bytes:
        """The whole captured body."""
        return b"".join(self.parts)

    def reply(self) -> Reply:
        """The captured response as a Reply, as the app sent it."""
        kept = [(k, v) for k, v in self.headers if k.lower() not in _REPLACED]
        kind = next((v for k, v in self.headers if k.lower() == b"content-type"), None)
        return Reply(self.status, self.body(), kept, kind or b"application/json")
