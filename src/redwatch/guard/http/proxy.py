"""The guard as a reverse proxy: a Starlette app that guards POST /predict and
/predict_proba in front of a remote upstream (`--upstream URL`) or a local model
(`--model FILE`), and serves GET /healthz and GET /metrics. Anything else is a JSON 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from redwatch.exceptions import UsageError
from redwatch.guard.http.asgi import crash, http_exception, starlette_response
from redwatch.guard.http.exchange import GuardExchange, ModelBackend
from redwatch.guard.http.metrics import CONTENT_TYPE, GuardMetrics
from redwatch.guard.http.serve import LocalModel
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.http.upstream import Upstream
from redwatch.guard.model import EventSink
from redwatch.guard.pipeline import GuardPipeline

GUARDED = ("/predict", "/predict_proba")
ROUTES = (*GUARDED, "/healthz", "/metrics")


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

    def guarded(path: str) -> Route:
        """The route of one guarded method (the path names the model method)."""
        method = path.removeprefix("/")

        async def endpoint(request: Request) -> Response:
            """One guarded call through the backend."""
            reply = await exchange.handle(
                request.scope, request.receive, path, method, backend.predict
            )
            metrics.set_state(backend.state)
            return starlette_response(reply)

        return Route(path, endpoint, methods=["POST"], name=method)

    async def healthz(request: Request) -> Response:
        """Liveness and the upstream's breaker state."""
        metrics.request("/healthz", 200)
        body = b'{"status":"ok","upstream":"' + backend.state.encode() + b'"}'
        return Response(body, media_type="application/json")

    async def render(request: Request) -> Response:
        """The Prometheus text of this app's registry."""
        metrics.request("/metrics", 200)
        metrics.set_state(backend.state)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def refused(request: Request, exc: Exception) -> Response:
        """404/405 as JSON errors, counted."""
        response = await http_exception(request, exc)
        metrics.request(request.url.path, response.status_code)
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """Close the backend's connections when the server stops."""
        try:
            yield
        finally:
            await backend.aclose()

    app = Starlette(
        routes=[
            *(guarded(path) for path in GUARDED),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", render, methods=["GET"]),
        ],
        exception_handlers={HTTPException: refused, Exception: crash},
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.metrics = metrics
    return app
