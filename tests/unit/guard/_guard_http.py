"""Helpers for the HTTP guard tests: pipelines around the wine model, a model that records
what it was asked, an in-process proxy client, a closed loopback port, and the check that an
answer is the protocol's one-line JSON error."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import numpy as np
from _guard_models import WineCase, wine_case
from starlette.applications import Starlette

from redwatch.guard import parse_policy
from redwatch.guard.context import StageContext
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.stage import GuardStage
from redwatch.guard.stages import BUILTIN_STAGES

ERROR_KEYS = {"error", "status", "stage"}


def wine_pipeline(
    stages: list[Any] | None = None,
    table: dict[str, type[GuardStage]] | None = None,
    case: WineCase | None = None,
) -> GuardPipeline:
    """A pipeline of `stages` (default: validate with spec events, sanitize, output) that
    knows the wine model's spec and probabilities."""
    case = case or wine_case()
    if stages is None:
        stages = [
            {"name": "validate", "options": {"spec_check": "event"}},
            {"name": "sanitize"},
            {"name": "output", "options": {"decimals": 4}},
        ]
    context = StageContext(spec=case.spec, predict_proba=case.model.predict_proba)
    return GuardPipeline(
        parse_policy({"stages": stages}), context, {**BUILTIN_STAGES, **(table or {})}
    )


class Recording:
    """A fitted model that keeps every batch of rows it is asked about."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = model.classes_
        self.n_features_in_ = model.n_features_in_
        self.seen: list[np.ndarray] = []

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The wrapped model's labels, after recording the rows."""
        self.seen.append(np.array(rows))
        return np.asarray(self.model.predict(rows))

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """The wrapped model's probabilities, after recording the rows."""
        self.seen.append(np.array(rows))
        return np.asarray(self.model.predict_proba(rows))


@asynccontextmanager
async def client_of(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of `app`; the app's backend is closed afterwards."""
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5555))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://guard") as client:
            yield client
    finally:
        backend = getattr(app.state, "backend", None)
        if backend is not None:
            await backend.aclose()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_error(response: httpx.Response, status: int, stage: str = "proxy") -> str:
    """The response is the protocol's JSON error with this status and stage; its message."""
    assert response.status_code == status, response.text
    body = json.loads(response.content)
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status
    assert body["stage"] == stage, body
    assert isinstance(body["error"], str)
    assert body["error"]
    assert "\n" not in body["error"]
    assert "Traceback" not in body["error"]
    if status in (429, 503):
        assert int(response.headers["retry-after"]) >= 1
    return str(body["error"])


def instances(rows: Any) -> dict[str, Any]:
    """The protocol's request body for `rows`."""
    return {"instances": np.asarray(rows).tolist()}
