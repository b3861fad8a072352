"""ASGI plumbing shared by the proxy, the middleware and the model server: header lookups,
the client id and API key of a call, a bounded body read (size cap and deadline, so that a
slow or oversized client cannot hold a worker), sending a finished reply, and the Starlette
handlers that turn 404/405 and stray exceptions into the protocol's JSON errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from redwatch.guard.http.protocol import INTERNAL_ERROR, HttpError, error_body, is_json_media

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
logger = logging.getLogger("redwatch.guard.http")


@dataclass
class Reply:
    """A complete HTTP answer: status, body bytes and extra headers (Content-Type and
    Content-Length are added when it is sent)."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    content_type: bytes = b"application/json"

    @classmethod
    def error(cls, exc: HttpError) -> Reply:
        """The protocol's JSON error body for `exc`, with Retry-After when it names a wait."""
        headers = []
        if exc.retry_after is not None:
            headers.append((b"retry-after", str(exc.retry_after).encode()))
        return cls(exc.status, error_body(exc.message, exc.status, exc.stage), headers)

    def header_map(self) -> dict[str, str]:
        """Extra headers as a str mapping (for a Starlette Response)."""
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in self.headers}


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (`name` lower-case), None when absent."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def client_id(scope: Scope) -> str:
    """`ip:<remote host>` (the GuardRequest client), `ip:unknown` when the server gives none."""
    client = scope.get("client")
    host = client[0] if client else None
    return f"ip:{host}" if host else "ip:unknown"


def api_key(scope: Scope) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`, None without one."""
    auth = header(scope, b"authorization")
    if auth is not None:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = header(scope, b"x-api-key")
    return (key.strip() or None) if key is not None else None


async def read_body(scope: Scope, receive: Receive, max_bytes: int, timeout_s: float) -> bytes:
    """The request body, refused with HttpError: 415 when it is not JSON, 413 when the
    declared Content-Length or the bytes received (chunked) pass `max_bytes`, 408 when the
    whole body takes longer than `timeout_s`, 400 when the client leaves mid-body."""
    if not is_json_media(header(scope, b"content-type")):
        raise HttpError("body must be JSON (Content-Type: application/json)", 415)
    declared = header(scope, b"content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HttpError(f"Content-Length is not a number: {declared[:40]!r}", 400)
        if int(declared) > max_bytes:
            raise HttpError(f"body of {int(declared)} bytes exceeds the cap of {max_bytes}", 413)
    with anyio.move_on_after(timeout_s) as deadline:
        return await _collect(receive, max_bytes)
    assert deadline.cancelled_caught
    raise HttpError(f"client did not send its body within {timeout_s:g} s", 408)


async def _collect(receive: Receive, max_bytes: int) -> bytes:
    """Chunks until the last one, counting bytes as they arrive."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError("client disconnected before sending its whole body", 400)
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(f"body exceeds the cap of {max_bytes} bytes", 413)
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def send_reply(send: Send, reply: Reply) -> None:
    """Send `reply` as one response start and one body message."""
    headers = [
        (b"content-type", reply.content_type),
        (b"content-length", str(len(reply.body)).encode()),
        *reply.headers,
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


def starlette_response(reply: Reply) -> Response:
    """`reply` as a Starlette Response (for route endpoints)."""
    return Response(
        reply.body,
        reply.status,
        headers=reply.header_map(),
        media_type=reply.content_type.decode("latin-1"),
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404 unknown path, 405 wrong method) as protocol errors."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: f"no route {request.url.path}", 405: f"{request.method} not allowed here"}
    error = HttpError(message.get(status, "request refused"), status)
    response = starlette_response(Reply.error(error))
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


async def crash(request: Request, exc: Exception) -> Response:
    """The last resort: an exception nothing else caught, logged with its traceback and
    answered as a one-line 500 (never the traceback)."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return starlette_response(Reply.error(HttpError(INTERNAL_ERROR, 500)))
