"""The proxy's way to the model behind it: a pooled keep-alive connection to the upstream,
timeouts from ProxySettings, and a circuit breaker that stops hammering an upstream that
keeps failing. Every failure becomes an HttpError naming what went wrong: 502 (refused,
5xx, garbage answer), 503 with Retry-After (breaker open), 504 (too slow).

An http:// upstream goes through client.HttpPool (minimal asyncio HTTP/1.1, about a tenth of
httpx's CPU per call); an https:// upstream, or a test's in-process transport, goes through
httpx, which brings TLS."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from functools import cached_property

import httpx
import numpy as np

from redwatch.exceptions import UsageError
from redwatch.guard.http.client import (
    AnswerError,
    ClientError,
    ConnectFailed,
    ConnectTimeout,
    HttpPool,
)
from redwatch.guard.http.protocol import HttpError, one_line, parse_answer, request_body
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.stage import GuardResponse

MAX_ANSWER_BYTES = 64 * 1024 * 1024
RELAYED = frozenset({400, 413, 415, 422, 429})
Clock = Callable[[], float]


class CircuitBreaker:
    """closed -> open after `failures` consecutive failures; open -> half-open once
    `reset_s` have passed, when exactly one trial request may go; its success closes the
    breaker, its failure opens it again. Single event loop: no awaits inside, no lock."""

    def __init__(self, failures: int, reset_s: float, clock: Clock = time.monotonic) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self.clock = clock
        self.count = 0
        self.opened_at: float | None = None
        self.trial = False

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open` (open whose reset time has passed counts as
        half-open: the next request is the trial)."""
        if self.opened_at is None:
            return "closed"
        if self.trial or self.clock() - self.opened_at >= self.reset_s:
            return "half-open"
        return "open"

    def acquire(self) -> None:
        """Let a request go, or HttpError 503 with Retry-After while open (or while the
        half-open trial is still out)."""
        if self.opened_at is None:
            return
        wait = self.reset_s - (self.clock() - self.opened_at)
        if wait > 0 or self.trial:
            seconds = max(1, math.ceil(wait))
            raise HttpError(
                f"upstream circuit breaker is open after {self.failures} consecutive failures; "
                f"retry in {seconds} s",
                503,
                retry_after=seconds,
            )
        self.trial = True

    def success(self) -> None:
        """The upstream answered: close the breaker and forget past failures."""
        self.count, self.opened_at, self.trial = 0, None, False

    def failure(self) -> None:
        """The upstream failed: count it, and open (again) when due."""
        self.count += 1
        if self.trial or self.count >= self.failures:
            self.opened_at, self.trial = self.clock(), False

    def abandon(self) -> None:
        """A request that went out ended with neither verdict (cancelled): free the trial."""
        self.trial = False


class Upstream:
    """A remote model speaking the protocol at `base_url` (POST /predict, /predict_proba).
    `transport` replaces the network (tests: httpx.ASGITransport around model_app)."""

    def __init__(
        self,
        base_url: str,
        settings: ProxySettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.settings = settings or ProxySettings()
        self.transport = transport

    @cached_property
    def breaker(self) -> CircuitBreaker:
        """This upstream's circuit breaker."""
        return CircuitBreaker(self.settings.breaker_failures, self.settings.breaker_reset_s)

    @cached_property
    def uses_pool(self) -> bool:
        """True when calls go through HttpPool (plain http:// and no test transport)."""
        return self.transport is None and self.base_url.lower().startswith("http://")

    @cached_property
    def pool(self) -> HttpPool:
        """The keep-alive pool for an http:// upstream."""
        s = self.settings
        return HttpPool(
            self.base_url.rstrip("/"),
            max_connections=s.max_connections,
            connect_timeout_s=s.connect_timeout_s,
            max_body_bytes=MAX_ANSWER_BYTES,
        )

    @cached_property
    def client(self) -> httpx.AsyncClient:
        """The httpx client for https:// (or a test transport): pooled, with timeouts."""
        s = self.settings
        return httpx.AsyncClient(
            base_url=self.base_url.rstrip("/"),
            timeout=httpx.Timeout(s.upstream_timeout_s, connect=s.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=s.max_connections, max_keepalive_connections=s.max_connections
            ),
            transport=self.transport,
            follow_redirects=False,
        )

    @property
    def state(self) -> str:
        """The breaker's state, for /healthz and the metrics."""
        return self.breaker.state

    def check(self) -> Upstream:
        """Self, or UsageError when `base_url` is not an http(s) URL with a host."""
        try:
            url = httpx.URL(self.base_url) if "://" in self.base_url else None
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host or not _port_ok(url):
            raise UsageError(
                f"upstream must be an http(s) URL like http://host:port, got {self.base_url!r}"
            )
        if self.uses_pool:
            try:
                _ = self.pool.origin
            except ValueError:
                raise UsageError(
                    f"upstream must be a base URL like http://host:port, got {self.base_url!r}"
                ) from None
        return self

    async def aclose(self) -> None:
        """Close the pooled connections (app shutdown)."""
        if "pool" in self.__dict__:
            await self.pool.aclose()
        if "client" in self.__dict__:
            await self.client.aclose()

    async def predict(self, rows: np.ndarray, method: str) -> GuardResponse:
        """Ask the upstream for `method` on `rows` through the breaker; the validated answer,
        or HttpError (upstream 4xx answers are relayed with their status)."""
        self.breaker.acquire()
        verdict = False
        try:
            answer = await self._exchange(rows, method)
            verdict = True
            self.breaker.success()
            return answer
        except HttpError as exc:
            verdict = True
            if exc.status >= 500:
                self.breaker.failure()
            else:
                self.breaker.success()
            raise
        finally:
            if not verdict:
                self.breaker.abandon()

    async def _exchange(self, rows: np.ndarray, method: str) -> GuardResponse:
        """One POST within the overall deadline; transport failures as HttpError."""
        limit = self.settings.upstream_timeout_s + self.settings.connect_timeout_s
        post = self._pooled if self.uses_pool else self._httpx
        try:
            async with asyncio.timeout(limit):
                status, raw = await post(f"/{method}", request_body(rows))
        except (TimeoutError, httpx.TimeoutException):
            raise HttpError(
                f"upstream did not answer within {self.settings.upstream_timeout_s:g} s", 504
            ) from None
        if status != 200:
            raise _status_error(status, raw)
        return parse_answer(raw, rows.shape[0], method, "upstream")

    async def _pooled(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST through HttpPool; its failures as HttpError (timeouts pass as TimeoutError)."""
        try:
            answer = await self.pool.post(path, body)
        except ConnectTimeout as exc:
            raise HttpError(str(exc), 504) from None
        except ConnectFailed as exc:
            raise HttpError(f"upstream unreachable ({exc})", 502) from None
        except AnswerError as exc:
            raise HttpError(str(exc), 502) from None
        except ClientError as exc:
            raise HttpError(f"upstream connection failed ({exc})", 502) from None
        return answer.status, answer.body

    async def _httpx(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST through httpx; the status and at most MAX_ANSWER_BYTES of answer."""
        headers = {"content-type": "application/json", "accept": "application/json"}
        try:
            async with self.client.stream("POST", path, content=body, headers=headers) as answer:
                parts, size = [], 0
                async for chunk in answer.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise HttpError(f"upstream answer exceeds {MAX_ANSWER_BYTES} bytes", 502)
                    parts.append(chunk)
                return answer.status_code, b"".join(parts)
        except httpx.TimeoutException:
            raise
        except httpx.ConnectError as exc:
            raise HttpError(f"upstream unreachable ({one_line(str(exc))})", 502) from None
        except httpx.TransportError as exc:
            raise HttpError(f"upstream connection failed ({type(exc).__name__})", 502) from None


def _status_error(status: int, raw: bytes) -> HttpError:
    """A non-200 upstream answer: a refusal of the request itself (RELAYED) passed on with
    the upstream's own message; anything else (5xx, 404, 401, redirects) as 502."""
    if status in RELAYED:
        wait = 1 if status == 429 else None
        return HttpError(f"upstream answered {status}: {_their_error(raw)}", status, "proxy", wait)
    return HttpError(f"upstream answered {status}", 502)


def _their_error(raw: bytes) -> str:
    """The `error` field of an upstream error body, or the first bytes of it."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return one_line(data["error"])
    text = raw[:120].decode("utf-8", "replace")
    return one_line(text) if text.strip() else "no details"


def _port_ok(url: httpx.URL) -> bool:
    """True when the URL names no port or a valid one."""
    return url.port is None or 0 < url.port < 65536
