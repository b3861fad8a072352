"""The LLM guard as a reverse proxy in front of an OpenAI-compatible chat endpoint.

POST /v1/chat/completions: read the body (bounded), parse it strictly, run the chat
pipeline's request stages, forward to `{upstream}/chat/completions`, parse the answer, run
the response stages, answer in the OpenAI shape. Fields the guard does not model (top_p,
seed, ...) travel unchanged; an answer no stage touched is passed on byte for byte. Every
refusal is one line in OpenAI's error shape: a guard block is
`{"error": {"message": "blocked by <stage>: <reason>", "type": "guard_blocked", "code":
<stage>}}` with the stage's status; a bad body is 400, an unreachable upstream 502, a slow
one 504. GET /v1/models is forwarded; /healthz and /metrics are the guard's own.

The stages run in a worker thread: an embedding detector takes tens of milliseconds, which
must not stall the event loop (the hop costs about 0.2 ms, nothing next to a model's reply).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any

import anyio
import httpx
import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from redwatch.exceptions import DataError, UsageError
from redwatch.guard.http.asgi import api_key, client_id, header, read_body
from redwatch.guard.http.exchange import proxy_event
from redwatch.guard.http.metrics import CONTENT_TYPE, GuardMetrics
from redwatch.guard.http.protocol import HttpError, one_line
from redwatch.guard.model import EventSink
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.stage import GuardBlocked, GuardEvent, GuardRequest, GuardResponse
from redwatch.llm.chat import ChatReply, ChatRequest

logger = logging.getLogger("redwatch.guard.http")
CHAT = "/v1/chat/completions"
MODELS = "/v1/models"
ROUTES = (CHAT, MODELS, "/healthz", "/metrics")
MAX_BODY_BYTES = 4 * 1024 * 1024
BODY_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 16 * 1024 * 1024
RELAYED = frozenset({400, 401, 403, 404, 409, 413, 422, 429})
ERROR_TYPES = {400: "invalid_request_error", 502: "upstream_error", 504: "upstream_timeout"}


def error_response(
    status: int, message: str, kind: str | None = None, code: Any = None
) -> Response:
    """One-line error in OpenAI's shape: {"error": {"message", "type", "code"}}."""
    kind = kind or ERROR_TYPES.get(status, "proxy_error")
    body = {"error": {"message": one_line(message), "type": kind, "code": code}}
    return Response(json.dumps(body), status, media_type="application/json")


def checked_upstream(url: str) -> str:
    """The upstream base URL (e.g. http://host:8000/v1) without a trailing '/'; UsageError
    unless it is http(s) with a host."""
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(
            f"upstream must be an http(s) base URL like http://host:8000/v1, got {url!r}"
        )
    base = url.strip().rstrip("/")
    if base.endswith(("/chat/completions", "/models")):
        raise UsageError(
            f"upstream must be the base URL (e.g. http://host:8000/v1), not an endpoint: {url!r}"
        )
    return base


class ChatUpstream:
    """The chat server behind the proxy: one pooled httpx client, the proxy's own key (from
    `api_key_env`) or the client's Authorization header passed on."""

    def __init__(self, base_url: str, timeout: float, key: str | None) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.key = key

    @cached_property
    def client(self) -> httpx.AsyncClient:
        """The pooled client, made on first use."""
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), follow_redirects=False)

    def headers(self, request: Request) -> dict[str, str]:
        """What the upstream is sent: JSON, and a bearer key (ours, or the client's)."""
        out = {"content-type": "application/json", "accept": "application/json"}
        auth = f"Bearer {self.key}" if self.key else header(request.scope, b"authorization")
        if auth:
            out["authorization"] = auth
        return out

    async def call(self, method: str, path: str, request: Request, body: bytes = b"") -> bytes:
        """The upstream's 200 answer; HttpError for anything else (relayed 4xx, 502, 504)."""
        url = f"{self.base_url}{path}"
        try:
            answer = await self.client.request(
                method, url, content=body or None, headers=self.headers(request)
            )
        except httpx.TimeoutException:
            raise HttpError(
                f"upstream {url} did not answer within {self.timeout:g} s", 504
            ) from None
        except httpx.HTTPError as exc:
            raise HttpError(f"upstream {url} unreachable ({type(exc).__name__})", 502) from None
        if len(answer.content) > MAX_ANSWER_BYTES:
            raise HttpError(f"upstream answer exceeds {MAX_ANSWER_BYTES} bytes", 502)
        if answer.status_code == 200:
            return answer.content
        if answer.status_code in RELAYED:
            raise HttpError(
                f"upstream answered {answer.status_code}: {_their_message(answer.content)}",
                answer.status_code,
            )
        raise HttpError(f"upstream {url} answered {answer.status_code}", 502)

    async def aclose(self) -> None:
        """Close the pool (app shutdown)."""
        if "client" in self.__dict__:
            await self.client.aclose()


class ChatExchange:
    """One guarded chat call: pipeline, upstream, event sink and metrics."""

    def __init__(
        self,
        pipeline: GuardPipeline,
        upstream: ChatUpstream,
        sink: EventSink | None,
        metrics: GuardMetrics,
    ) -> None:
        self.pipeline = pipeline
        self.upstream = upstream
        self.sink = sink
        self.metrics = metrics

    async def handle(self, request: Request) -> Response:
        """Answer one POST; never raises (a crash is a logged one-line 500)."""
        started = time.perf_counter()
        events: list[GuardEvent] = []
        waited: list[float] = []
        try:
            response = await self._guarded(request, events, waited)
        except GuardBlocked as exc:
            events.extend(exc.events)
            message = f"blocked by {exc.stage}: {exc.reason}"
            response = error_response(exc.status, message, "guard_blocked", exc.stage)
        except HttpError as exc:
            events.append(proxy_event(exc, client_id(request.scope)))
            response = error_response(exc.status, exc.message)
        except Exception:
            logger.exception("chat guard failed on POST %s", CHAT)
            response = error_response(500, "internal error (see server log)")
        self.emit(events)
        overhead = time.perf_counter() - started - sum(waited)
        self.metrics.request(CHAT, response.status_code, overhead, sum(waited) or None)
        return response

    async def _guarded(
        self, request: Request, events: list[GuardEvent], waited: list[float]
    ) -> Response:
        """The happy path; refusals leave as GuardBlocked or HttpError."""
        started = time.perf_counter()
        raw = await read_body(request.scope, request.receive, MAX_BODY_BYTES, BODY_TIMEOUT_S)
        waited.append(time.perf_counter() - started)
        body, chat = parse_chat_body(raw)
        asked = GuardRequest(
            np.empty((0, 0)),
            client_id(request.scope),
            api_key(request.scope),
            len(raw),
            method="chat",
            chat=chat,
        )
        guarded, before = await anyio.to_thread.run_sync(self.pipeline.on_request, asked)
        events.extend(before)
        sent = raw if guarded.chat is chat else _encode(_merged_request(body, guarded.chat))
        started = time.perf_counter()
        try:
            answer = await self.upstream.call("POST", "/chat/completions", request, sent)
        finally:
            waited.append(time.perf_counter() - started)
        data, reply = parse_chat_answer(answer)
        response = GuardResponse(labels=np.empty(0), reply=reply)
        final, after = await anyio.to_thread.run_sync(self.pipeline.on_response, guarded, response)
        events.extend(after)
        if final.reply is reply or final.reply is None:
            return Response(answer, 200, media_type="application/json")
        return Response(
            _encode(_merged_answer(data, final.reply)), 200, media_type="application/json"
        )

    def emit(self, events: list[GuardEvent]) -> None:
        """Events to the metrics and the sink; a failing sink is logged, never raised."""
        if not events:
            return
        self.metrics.observe(events)
        if self.sink is None:
            return
        try:
            self.sink(events)
        except Exception:
            logger.exception("guard event sink failed; %d event(s) lost", len(events))


def parse_chat_body(raw: bytes) -> tuple[dict[str, Any], ChatRequest]:
    """The JSON body and its ChatRequest; HttpError 400 naming what is wrong."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HttpError(f"body is not valid JSON ({one_line(str(exc))})", 400) from None
    if not isinstance(body, dict):
        raise HttpError("body must be a JSON object with `messages`", 400)
    if body.get("stream"):
        raise HttpError("stream=true is not supported by the guard; ask without streaming", 400)
    try:
        return body, ChatRequest.from_openai(body)
    except DataError as exc:
        raise HttpError(str(exc), 400) from None


def parse_chat_answer(raw: bytes) -> tuple[dict[str, Any], ChatReply]:
    """The upstream's JSON answer and its ChatReply; HttpError 502 when malformed."""
    try:
        data = json.loads(raw)
        return data, ChatReply.from_openai(data)
    except (ValueError, RecursionError, DataError) as exc:
        raise HttpError(
            f"upstream sent a malformed chat completion ({one_line(str(exc))})", 502
        ) from None


def _merged_request(body: dict[str, Any], chat: ChatRequest | None) -> dict[str, Any]:
    """The client's body with the guarded messages and tools (other fields kept)."""
    assert chat is not None
    out = dict(body)
    out.update(chat.to_openai())
    if not chat.tools:
        out.pop("tools", None)
        out.pop("tool_choice", None)
    return out


def _merged_answer(data: dict[str, Any], reply: ChatReply) -> dict[str, Any]:
    """The upstream's answer with its first choice replaced by the guarded reply."""
    out = dict(data)
    choice = dict(out["choices"][0])
    choice["message"] = reply.message().to_openai()
    choice["finish_reason"] = reply.finish_reason
    out["choices"] = [choice, *out["choices"][1:]]
    return out


def _encode(value: dict[str, Any]) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":")).encode()


def _their_message(raw: bytes) -> str:
    """The message of an upstream error body (OpenAI shape or a plain `error` string)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return one_line(error["message"])
    if isinstance(error, str):
        return one_line(error)
    text = raw[:160].decode("utf-8", "replace")
    return one_line(text) if text.strip() else "no details"


def build_chat_proxy_app(
    pipeline: GuardPipeline,
    *,
    upstream: str,
    sink: EventSink | None = None,
    timeout: float = 30.0,
    api_key_env: str | None = None,
) -> Starlette:
    """The chat guard app in front of `upstream` (a base URL ending where
    /chat/completions goes, e.g. http://host:8000/v1). The stages are built here, so a bad
    policy (or one for prediction endpoints) fails at start-up."""
    if pipeline.stages and pipeline.domain != "chat":
        raise UsageError(
            f"{pipeline.source}: has no chat stages; the chat proxy runs llm-* stages "
            "(use `redwatch guard --upstream` for prediction endpoints)"
        )
    if timeout <= 0:
        raise UsageError(f"chat proxy timeout must be positive, got {timeout}")
    key = None
    if api_key_env is not None:
        key = os.environ.get(api_key_env, "").strip()
        if not key:
            raise UsageError(f"--api-key-env: ${api_key_env} is not set")
    forward = ChatUpstream(checked_upstream(upstream), timeout, key)
    metrics = GuardMetrics(ROUTES)
    exchange = ChatExchange(pipeline, forward, sink, metrics)
    return _app(exchange, forward, metrics)


def _app(exchange: ChatExchange, forward: ChatUpstream, metrics: GuardMetrics) -> Starlette:
    """The Starlette app around one exchange."""

    async def models(request: Request) -> Response:
        """The upstream's model list, passed on."""
        try:
            answer = await forward.call("GET", "/models", request)
        except HttpError as exc:
            metrics.request(MODELS, exc.status)
            return error_response(exc.status, exc.message)
        metrics.request(MODELS, 200)
        return Response(answer, 200, media_type="application/json")

    async def healthz(request: Request) -> Response:
        """Liveness."""
        metrics.request("/healthz", 200)
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def render(request: Request) -> Response:
        """The Prometheus text of this app's metrics."""
        metrics.request("/metrics", 200)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def refused(request: Request, exc: Exception) -> Response:
        """404 / 405 as one-line JSON errors."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        metrics.request(request.url.path, status)
        text = {404: f"no route {request.url.path}", 405: f"{request.method} not allowed here"}
        return error_response(status, text.get(status, "request refused"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """Close the upstream connections when the server stops."""
        try:
            yield
        finally:
            await forward.aclose()

    return Starlette(
        routes=[
            Route(CHAT, exchange.handle, methods=["POST"]),
            Route(MODELS, models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", render, methods=["GET"]),
        ],
        exception_handlers={HTTPException: refused},
        lifespan=lifespan,
    )
