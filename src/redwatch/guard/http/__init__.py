"""The guard over HTTP: the reverse proxy (build_proxy_app), the ASGI middleware for an
existing FastAPI/Starlette server (GuardMiddleware), a bare model server speaking the same
protocol (model_app), the settings they share (ProxySettings) and their Prometheus metrics
(GuardMetrics). The wire format is in protocol.py and docs/guard.md."""

from __future__ import annotations

from redwatch.guard.http.metrics import GuardMetrics
from redwatch.guard.http.middleware import GuardMiddleware
from redwatch.guard.http.protocol import HttpError
from redwatch.guard.http.proxy import build_proxy_app
from redwatch.guard.http.serve import model_app
from redwatch.guard.http.settings import ProxySettings

__all__ = [
    "GuardMetrics",
    "GuardMiddleware",
    "HttpError",
    "ProxySettings",
    "build_proxy_app",
    "model_app",
]
