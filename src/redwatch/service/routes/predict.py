"""/api/v1/targets/{name}/predict and /predict_proba: a registered model answered through
its in-service guard. The body and the answers are the guard proxy's protocol
(`{"instances": [[...]]}` in; `labels`, `probabilities`, `classes` out; a refusal is the
guard's one-line `{"error", "status", "stage"}` body), plus optional `ids` that name the
predictions for labels posted later. Model clients call with an analyst key."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from redwatch.guard.http.protocol import (
    HttpError,
    error_body,
    parse_instances,
    render_answer,
    retry_after,
)
from redwatch.guard.stage import GuardBlocked
from redwatch.service.auth import Analyst
from redwatch.service.guards import GuardCache
from redwatch.service.policies import UnknownTarget
from redwatch.service.state import State

router = APIRouter(tags=["predict"])
JSON = "application/json"
MAX_ID_CHARS = 64
BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["instances"],
                    "properties": {
                        "instances": {
                            "type": "array",
                            "items": {"type": "array", "items": {"type": "number"}},
                        },
                        "ids": {"type": "array", "items": {"type": "string"}},
                    },
                }
            }
        },
    }
}


@router.post("/targets/{name}/predict", openapi_extra=BODY_SCHEMA)
async def predict(name: str, request: Request, who: Analyst, state: State) -> Response:
    """Guarded labels."""
    return await _serve(name, request, "predict", who.actor, state.guards)


@router.post("/targets/{name}/predict_proba", openapi_extra=BODY_SCHEMA)
async def predict_proba(name: str, request: Request, who: Analyst, state: State) -> Response:
    """Guarded probabilities, classes and labels."""
    return await _serve(name, request, "predict_proba", who.actor, state.guards)


async def _serve(
    name: str, request: Request, method: str, client: str, guards: GuardCache | None
) -> Response:
    """Parse, answer through the guard (in a worker thread), render."""
    if guards is None:
        raise HTTPException(503, "the in-service guard is not running")
    body = await request.body()
    try:
        rows = parse_instances(body)
        ids = _ids(body)
        answer = await run_in_threadpool(guards.predict, name, rows, method, client, None, ids)
    except GuardBlocked as exc:
        wait = retry_after(exc.events) if exc.status == 429 else None
        return _error(HttpError(exc.reason, exc.status, exc.stage, wait))
    except HttpError as exc:
        return _error(exc)
    except UnknownTarget as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(render_answer(answer, method), 200, media_type=JSON)


def _ids(body: bytes) -> list[str] | None:
    """The optional `ids` (one string per instance), HttpError 400 when malformed."""
    if b'"ids"' not in body:
        return None
    ids = json.loads(body).get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(
        isinstance(i, str) and 0 < len(i) <= MAX_ID_CHARS for i in ids
    ):
        raise HttpError(f'"ids" must be a list of strings of 1 to {MAX_ID_CHARS} characters', 400)
    return ids


def _error(exc: HttpError) -> Response:
    """The guard protocol's one-line error body, with Retry-After when it names a wait."""
    headers = {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
    body = error_body(exc.message, exc.status, exc.stage)
    return Response(body, exc.status, headers=headers, media_type=JSON)
