"""create_app: the FastAPI application of `redwatch serve` — REST API v1 under /api/v1,
the dashboard at /, /healthz without a key. Errors are one JSON line, `{"error": ...}`,
with a 4xx status for every bad input and 503 when the store is down."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from redwatch import __version__
from redwatch.exceptions import RedwatchError, StoreError, first_line
from redwatch.service.limits import BodyLimit
from redwatch.service.settings import ServiceSettings
from redwatch.service.state import ServiceState
from redwatch.store.repository import Store

log = logging.getLogger("redwatch.service")

API = "/api/v1"
# (state attribute, "module:function"): built in this order at start-up, closed in reverse.
# Each function takes the ServiceState and returns an object with start() and close().
PARTS: tuple[tuple[str, str], ...] = (
    ("events", "redwatch.service.events_hub:build_event_hub"),
    ("alerts", "redwatch.service.alert_hub:build_alert_hub"),
    ("monitor", "redwatch.service.monitor_hub:build_monitor"),
    ("guards", "redwatch.service.guards:build_guards"),
    ("worker", "redwatch.service.worker:build_worker"),
)
# Route modules of redwatch.service.routes, each exposing `router` (mounted under /api/v1).
ROUTERS: tuple[str, ...] = (
    "keys",
    "audit",
    "metrics",
    "events",
    "campaigns",
    "targets",
    "jobs",
    "policies",
    "predict",
    "actions",
    "alerts",
    "incidents",
    "monitor",
)
# Modules exposing `router` mounted at the root (the dashboard).
ROOT_ROUTERS: tuple[str, ...] = ("redwatch.service.dashboard.routes",)


def create_app(settings: ServiceSettings, store: Store | None = None) -> FastAPI:
    """The service for `settings`; `store` (tests) replaces opening settings.db_url."""
    state = ServiceState(settings=settings, store=store or Store.open(settings.db_url))
    app = FastAPI(
        title="redwatch",
        version=__version__,
        description="Always-on red team and runtime defense for machine-learning models.",
        lifespan=_lifespan(state),
    )
    app.state.redwatch = state
    for name in ROUTERS:
        module = importlib.import_module(f"redwatch.service.routes.{name}")
        app.include_router(module.router, prefix=API)
    for dotted in ROOT_ROUTERS:
        app.include_router(importlib.import_module(dotted).router)
    app.add_api_route("/healthz", _healthz, methods=["GET"], include_in_schema=True)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def _lifespan(state: ServiceState) -> Callable[[FastAPI], Any]:
    """Build and start the parts on start-up; close them in reverse on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Any] = []
        try:
            for attr, dotted in PARTS:
                module, func = dotted.split(":")
                part = getattr(importlib.import_module(module), func)(state)
                setattr(state, attr, part)
                part.start()
                started.append(part)
            yield
        finally:
            for part in reversed(started):
                try:
                    part.close()
                except Exception:
                    log.exception("closing %s failed", type(part).__name__)
            state.store.close()

    return lifespan


async def _healthz(request: Request) -> JSONResponse:
    """Liveness and store reachability; the one route that needs no key."""
    state: ServiceState = request.app.state.redwatch
    try:
        with state.store.transaction("check the store") as session:
            session.connection()
    except StoreError as exc:
        return JSONResponse({"status": "degraded", "store": first_line(exc)}, 503)
    return JSONResponse({"status": "ok", "version": __version__})


def _add_error_handlers(app: FastAPI) -> None:
    """One-line JSON errors for HTTP errors, validation errors and redwatch errors."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": validation_line(exc.errors())}, 422)

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"error": first_line(exc)}, 503)

    @app.exception_handler(RedwatchError)
    async def bad_input(request: Request, exc: RedwatchError) -> JSONResponse:
        return JSONResponse({"error": first_line(exc)}, 400)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": "internal error (logged by the service)"}, 500)


def validation_line(errors: Any) -> str:
    """The first validation error as one line: `body.schedule.interval_s: Input should ...`."""
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
