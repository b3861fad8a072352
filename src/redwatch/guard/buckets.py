"""Token buckets for the ratelimit stage: the refill math, the Backend protocol, and the
in-memory backend. Time is the request's timestamp, never the wall clock, so the math is
reproducible and replicas that share a backend agree.

A bucket holds at most `burst` tokens and gains `rate` tokens per second; a call costing c
passes when every bucket it touches holds c tokens, and then takes c from each. The Redis
backend (redwatch.guard.redis_backend, so that replicas share limits) runs the same `take`
atomically in a server-side script.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redwatch.exceptions import RedwatchError
from redwatch.guard.lru import LruMap


class BackendError(RedwatchError):
    """A shared backend could not be asked (server down, timeout); one line naming it."""


@dataclass(frozen=True)
class Bucket:
    """One bucket a call draws on: its backend name, refill rate (tokens/s) and capacity."""

    name: str
    rate: float
    burst: float


@dataclass(frozen=True)
class Refusal:
    """Why a call did not pass: the bucket short of tokens and the seconds until it has them."""

    bucket: str
    retry_after: float


class Backend(Protocol):
    """Where bucket levels live. `take` must be atomic over all the buckets of one call."""

    def connect(self) -> None:
        """Check at build time that the store can be used; UsageError naming it otherwise."""
        ...

    def take(self, buckets: Sequence[Bucket], cost: float, now: float) -> Refusal | None:
        """Take `cost` tokens from every bucket at time `now` and return None, or take
        nothing and return the refusal with the longest wait; BackendError when a remote
        store cannot be asked."""
        ...


def refill(tokens: float, last: float, bucket: Bucket, now: float) -> float:
    """The level at `now` of a bucket that held `tokens` at `last` (time never runs back)."""
    return min(bucket.burst, tokens + max(0.0, now - last) * bucket.rate)


@dataclass
class _Level:
    """A bucket's tokens as of `last` (seconds, request time)."""

    tokens: float
    last: float


class MemoryBackend:
    """Buckets in this process, behind one lock; at most `max_buckets` (least recently used
    forgotten first: a forgotten bucket comes back full)."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self.max_buckets = max_buckets
        self._lock = threading.Lock()
        self._levels: LruMap[str, _Level] = LruMap(max_buckets)

    def __len__(self) -> int:
        """How many buckets are tracked now (at most max_buckets)."""
        with self._lock:
            return len(self._levels)

    def connect(self) -> None:
        """Nothing to check: the buckets live in this process."""

    def take(self, buckets: Sequence[Bucket], cost: float, now: float) -> Refusal | None:
        """See Backend.take."""
        with self._lock:
            levels = [self._current(bucket, now) for bucket in buckets]
            short = [
                Refusal(b.name, (cost - level.tokens) / b.rate)
                for b, level in zip(buckets, levels, strict=True)
                if level.tokens < cost
            ]
            if short:
                return max(short, key=lambda refusal: refusal.retry_after)
            for level in levels:
                level.tokens -= cost
            return None

    def level(self, bucket: Bucket, now: float) -> float:
        """The bucket's tokens at `now` (full when unknown); for metrics and tests."""
        with self._lock:
            known = self._levels.get(bucket.name)
            return bucket.burst if known is None else refill(known.tokens, known.last, bucket, now)

    def _current(self, bucket: Bucket, now: float) -> _Level:
        """The bucket's level brought forward to `now` (created full). Caller holds the lock."""
        level = self._levels.get_or_create(bucket.name, lambda: _Level(bucket.burst, now))
        level.tokens = refill(level.tokens, level.last, bucket, now)
        level.last = max(level.last, now)
        return level


@dataclass(frozen=True)
class BackendSettings:
    """What a backend factory may need: the in-memory cap, and for a shared store its URL,
    key prefix and per-command timeout (seconds)."""

    max_tracked: int = 100_000
    url: str | None = None
    key_prefix: str = "redwatch:ratelimit:"
    timeout_s: float = 0.25


def memory_backend(settings: BackendSettings) -> Backend:
    """Buckets in this process (each replica counts on its own)."""
    return MemoryBackend(settings.max_tracked)


def redis_backend(settings: BackendSettings) -> Backend:
    """Buckets in Redis, shared by every replica that names the same server and prefix
    (imported on demand: the redis client is only needed when it is used)."""
    from redwatch.guard.redis_backend import RedisBackend

    if settings.url is None:
        raise ValueError("the redis backend needs a url")
    return RedisBackend(settings.url, key_prefix=settings.key_prefix, timeout_s=settings.timeout_s)


BACKENDS: dict[str, Callable[[BackendSettings], Backend]] = {
    "memory": memory_backend,
    "redis": redis_backend,
}
