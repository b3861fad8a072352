"""The guard as a reverse proxy: a Starlette app that guards POST /predict and
/predict_proba in front of a remote upstream (`--upstream URL`) or a local model
(`--model FILE`), and serves GET /healthz and GET /metrics. Anything else is a JSON 404.

The guarded POSTs are the hot path: ProxyApp hands them straight to the exchange as raw
ASGI, past Starlette's middleware stack, router and Request/Response objects (about 40 us
of CPU per call); every other call takes the ordinary Starlette route. While the server
runs, the process is tuned for latency (serving_process: start-up objects frozen out of the
garbage collector, a 1 ms GIL switch interval)."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from redwatch.exceptions import UsageError
from redwatch.guard.http.asgi import (
    Receive,
    Scope,
    Send,
    crash,
    http_exception,
    send_reply,
    starlette_response,
)
from redwatch.guard.http.exchange import GuardExchange, ModelBackend
from redwatch.guard.http.metrics import CONTENT_TYPE, GuardMetrics
from redwatch.guard.http.serve import LocalModel
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.http.upstream import Upstream
from redwatch.guard.model import EventSink
from redwatch.guard.pipeline import GuardPipeline

GUARDED = ("/predict", "/predict_proba")
ROUTES = (*GUARDED, "/healthz", "/metrics")
SWITCH_INTERVAL_S = 0.001


def build_proxy_app(
    pipeline: GuardPipeline,
    *,
    upstream: str | None = None,
    model: Any | None = None,
    sink: EventSink | None = None,
    settings: ProxySettings | None = None,
) -> Starlette:
    """The proxy app in front of exactly one of `upstream` (base URL of a server speaking
    the protocol) or `model` (a fitted model served in-process). The pipeline's stages are
    built here, so that a bad policy fails at start-up, not on the first call."""
    if (upstream is None) == (model is None):
        raise UsageError("the guard proxy needs exactly one of an upstream URL or a model")
    limits = (settings or ProxySettings()).check()
    backend: ModelBackend
    if upstream is not None:
        backend = Upstream(upstream, limits).check()
    else:
        backend = LocalModel(model).check()
    return proxy_app(pipeline, backend, sink=sink, settings=limits)


class ProxyApp(Starlette):
    """A Starlette app whose guarded POST routes skip the framework: `fast` maps a path to
    the raw ASGI handler of its guarded call."""

    fast: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST to a guarded path: its handler directly; anything else: Starlette."""
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.fast.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def proxy_app(
    pipeline: GuardPipeline,
    backend: ModelBackend,
    *,
    sink: EventSink | None = None,
    settings: ProxySettings | None = None,
) -> Starlette:
    """The proxy app around any backend (build_proxy_app picks one; tests hand in an
    Upstream with an in-process transport). `app.state` holds the backend and metrics."""
    _ = pipeline.stages
    limits = (settings or ProxySettings()).check()
    metrics = GuardMetrics(ROUTES)
    metrics.set_state(backend.state)
    exchange = GuardExchange(pipeline, sink, metrics, limits)
    shown = [backend.state]

    def show_state(always: bool = False) -> None:
        """Mark the backend's state in the metrics when it changed since last shown (a gauge
        update costs four label lookups, too many to repeat on every call)."""
        state = backend.state
        if always or state != shown[0]:
            metrics.set_state(state)
            shown[0] = state

    def guarded(path: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """The raw ASGI handler of one guarded method (the path names the model method)."""
        method = path.removeprefix("/")

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            """One guarded call through the backend."""
            reply = await exchange.handle(scope, receive, path, method, backend.predict)
            show_state()
            await send_reply(send, reply)

        return handle

    def route(path: str) -> Route:
        """The Starlette route of a guarded path (reached when ProxyApp's shortcut is not
        taken, e.g. under a root path)."""

        async def endpoint(request: Request) -> Response:
            """The same guarded call through Starlette's Request and Response."""
            reply = await exchange.handle(
                request.scope, request.receive, path, path.removeprefix("/"), backend.predict
            )
            show_state()
            return starlette_response(reply)

        return Route(path, endpoint, methods=["POST"], name=path.removeprefix("/"))

    async def healthz(request: Request) -> Response:
        """Liveness and the upstream's breaker state."""
        metrics.request("/healthz", 200)
        body = b'{"status":"ok","upstream":"' + backend.state.encode() + b'"}'
        return Response(body, media_type="application/json")

    async def render(request: Request) -> Response:
        """The Prometheus text of this app's registry."""
        metrics.request("/metrics", 200)
        show_state(always=True)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def refused(request: Request, exc: Exception) -> Response:
        """404/405 as JSON errors, counted."""
        response = await http_exception(request, exc)
        metrics.request(request.url.path, response.status_code)
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """Tune the process for serving while the server runs; close the backend's
        connections when it stops."""
        with serving_process():
            try:
                yield
            finally:
                await backend.aclose()

    app = ProxyApp(
        routes=[
            *(route(path) for path in GUARDED),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", render, methods=["GET"]),
        ],
        exception_handlers={HTTPException: refused, Exception: crash},
        lifespan=lifespan,
    )
    app.fast = {path: guarded(path) for path in GUARDED}
    app.state.backend = backend
    app.state.metrics = metrics
    return app


@contextmanager
def serving_process(switch_s: float = SWITCH_INTERVAL_S) -> Iterator[None]:
    """The guard's process tuned for latency while it serves, restored after. (1) Collect
    once, then move every object alive now (modules, the model, calibration data: a million
    objects or more) to the collector's permanent generation: otherwise each full collection
    rescans them all, 15-130 ms in which no call is served. (2) Let a thread that wants the
    GIL have it after `switch_s` instead of 5 ms, so that the event loop does not wait behind
    the event recorder's writer thread for most of a 5 ms slice."""
    previous = sys.getswitchinterval()
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(switch_s)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
        gc.unfreeze()
