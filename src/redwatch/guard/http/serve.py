"""A local model behind the protocol: LocalModel (the proxy's backend in --model mode) and
model_app, a bare, unguarded server of a scikit-learn-API model. model_app is the
benchmark's direct upstream, so it stays lean: stdlib json, no pydantic, no stages.

The model runs inline on the event loop: a small scikit-learn or XGBoost call takes about
0.5-1.5 ms, a hop to a worker thread adds about 0.2 ms, and most of the call holds the GIL,
so a thread bought no throughput except for many concurrent 100-row batches (+10-20%).
Scale out with uvicorn workers instead.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from redwatch.exceptions import UsageError
from redwatch.guard.http.asgi import Reply, crash, http_exception, read_body, starlette_response
from redwatch.guard.http.protocol import (
    INTERNAL_ERROR,
    HttpError,
    error_body,
    parse_instances,
    render_answer,
    require_usable,
)
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.stage import GuardResponse

logger = logging.getLogger("redwatch.guard.http")


class LocalModel:
    """A fitted model with `predict` (and `predict_proba` for scores) answering in-process."""

    state = "local"

    def __init__(self, model: Any) -> None:
        self.model = model

    def check(self) -> LocalModel:
        """Self, or UsageError when the object cannot serve predictions."""
        if not callable(getattr(self.model, "predict", None)):
            raise UsageError(f"model {type(self.model).__name__} has no predict method")
        return self

    @property
    def n_features(self) -> int | None:
        """The feature count the model was fitted on, when it records one."""
        count = getattr(self.model, "n_features_in_", None)
        return int(count) if isinstance(count, int | np.integer) else None

    async def predict(self, rows: np.ndarray, method: str) -> GuardResponse:
        """The backend call: `answer` inline (see the module docstring)."""
        return self.answer(rows, method)

    async def aclose(self) -> None:
        """Nothing to release."""

    def answer(self, rows: np.ndarray, method: str) -> GuardResponse:
        """Labels, or probabilities with classes and the labels they imply; HttpError 400
        for rows the model cannot take, 500 naming a model that answers NaN."""
        require_usable(rows, self.n_features)
        if method != "predict_proba":
            labels = np.asarray(self.model.predict(rows))
            if labels.shape != (rows.shape[0],):
                raise HttpError(f"model answered labels of shape {labels.shape}", 500)
            return GuardResponse(labels=labels)
        proba_fn = getattr(self.model, "predict_proba", None)
        if not callable(proba_fn):
            raise HttpError("this model gives labels only: call /predict", 400)
        proba = np.asarray(proba_fn(rows), dtype=np.float64)
        if proba.ndim != 2 or proba.shape[0] != rows.shape[0] or not np.isfinite(proba).all():
            raise HttpError("model answered probabilities that are not finite (n, k)", 500)
        classes = getattr(self.model, "classes_", None)
        classes = None if classes is None else np.asarray(classes)
        top = proba.argmax(axis=1)
        labels = classes[top] if classes is not None and len(classes) == proba.shape[1] else top
        return GuardResponse(labels=labels, proba=proba, classes=classes)


def model_app(model: Any, settings: ProxySettings | None = None) -> Starlette:
    """A bare server of `model`: POST /predict and /predict_proba, GET /healthz; protocol
    errors (400, 408, 413, 415, 422) as one-line JSON, nothing guarded."""
    local = LocalModel(model).check()
    limits = (settings or ProxySettings()).check()

    async def predict(request: Request) -> Response:
        """Labels."""
        return await _serve(request, local, "predict", limits)

    async def predict_proba(request: Request) -> Response:
        """Probabilities, classes and labels."""
        return await _serve(request, local, "predict_proba", limits)

    async def healthz(request: Request) -> Response:
        """Liveness."""
        return Response(b'{"status":"ok","upstream":"local"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/predict_proba", predict_proba, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_exception, Exception: crash},
    )


async def _serve(request: Request, local: LocalModel, method: str, s: ProxySettings) -> Response:
    """Read, parse, predict, answer; errors as the protocol's JSON bodies."""
    try:
        body = await read_body(request.scope, request.receive, s.max_body_bytes, s.body_timeout_s)
        rows = parse_instances(body)
        return Response(
            render_answer(local.answer(rows, method), method), media_type="application/json"
        )
    except HttpError as exc:
        return starlette_response(Reply.error(exc))
    except Exception:
        logger.exception("model server failed on POST %s", request.url.path)
        return Response(error_body(INTERNAL_ERROR, 500), 500, media_type="application/json")
