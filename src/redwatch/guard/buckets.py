"""Token buckets for the ratelimit stage: the refill math, the Backend protocol, and the
in-memory backend. Time is the request's timestamp, never the wall clock, so the math is
reproducible and replicas that share a backend agree.

A bucket holds at most `burst` tokens and gains `rate` tokens per second; a call costing c
passes when every bucket it touches holds c tokens, and then takes c from each. A Redis
backend (so that proxy replicas share limits) implements the same `take` atomically in a
server-side script; it is not built yet (docs/guard.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redwatch.guard.lru import LruMap


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

    def take(self, buckets: Sequence[Bucket], cost: float, now: float) -> Refusal | None:
        """Take `cost` tokens from every bucket at time `now` and return None, or take
        nothing and return the refusal with the longest wait."""
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


BACKENDS: dict[str, Callable[[int], Backend]] = {"memory": MemoryBackend}
