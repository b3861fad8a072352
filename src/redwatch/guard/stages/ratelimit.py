"""ratelimit: token buckets per API key (or per client) and one global bucket, refilled by
the request timestamp. A call that finds a bucket short is blocked 429 with `retry_after`
(seconds) in its event; a call that takes tokens takes them from both buckets or neither.

Place it after `auth`, so that the key it counts against is a verified one. Buckets are
named by a digest of the whole key, so a forged key with a victim's id never drains the
victim's bucket, and no key is kept in plain text.

`backend: redis` shares the buckets between replicas. When Redis cannot be asked, the
stage falls back as `on_backend_error` says (default `local`: per-replica buckets), emits
one `backend_unavailable` event per outage, and asks Redis again every `backend_retry_s`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import Field

from redwatch.exceptions import UsageError
from redwatch.guard.buckets import (
    BACKENDS,
    Backend,
    BackendError,
    BackendSettings,
    Bucket,
    MemoryBackend,
    Refusal,
)
from redwatch.guard.keys import key_id
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardEvent,
    GuardRequest,
    GuardStage,
    StageOptions,
)

GLOBAL = "global"
UNAVAILABLE = "backend"
REDIS_ONLY = ("redis_url", "redis_url_env", "key_prefix", "redis_timeout_s")


class BucketOptions(StageOptions):
    """`rate` tokens per second, at most `burst` tokens (the largest burst of calls)."""

    rate: float = Field(gt=0, allow_inf_nan=False)
    burst: float = Field(ge=1, allow_inf_nan=False)


class RateLimitOptions(StageOptions):
    """Per-key and global buckets (either may be null to turn it off), what a call costs,
    who `per_key` counts (`key`: the API key, else the client; `client`: always the client),
    the backend, and how many per-key buckets are tracked at most (in memory). The redis
    backend takes `redis_url` or `redis_url_env` (a variable holding it, for passwords),
    `key_prefix` and `redis_timeout_s`; `on_backend_error` (`local` buckets, `allow`,
    `block` 429) applies while it is unreachable, retried every `backend_retry_s`."""

    per_key: BucketOptions | None = BucketOptions(rate=10.0, burst=20.0)
    global_: BucketOptions | None = Field(
        default=BucketOptions(rate=1000.0, burst=2000.0), alias="global"
    )
    cost: Literal["request", "row"] = "request"
    by: Literal["key", "client"] = "key"
    backend: Literal["memory", "redis"] = "memory"
    max_tracked: int = Field(default=100_000, ge=2)
    redis_url: str | None = Field(default=None, min_length=1)
    redis_url_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    key_prefix: str = Field(default="redwatch:ratelimit:", min_length=1, max_length=200)
    redis_timeout_s: float = Field(default=0.25, gt=0, le=10, allow_inf_nan=False)
    on_backend_error: Literal["local", "allow", "block"] = "local"
    backend_retry_s: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)


class Outage:
    """Whether the shared store counts as down. After a failure it is skipped for `retry_s`
    seconds of request time, so a dead server costs one timeout per retry, not per call."""

    def __init__(self, retry_s: float) -> None:
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._since: float | None = None
        self._next_try = float("-inf")

    def should_try(self, now: float) -> bool:
        """True when the store should be asked at `now`."""
        with self._lock:
            return now >= self._next_try

    def failed(self, now: float) -> bool:
        """Record a failure at `now`; True when it starts a new outage."""
        with self._lock:
            new = self._since is None
            if new:
                self._since = now
            self._next_try = now + self.retry_s
            return new

    def recovered(self) -> float | None:
        """Record a success; the outage's start when this ends one, else None."""
        with self._lock:
            since, self._since = self._since, None
            self._next_try = float("-inf")
            return since


class RateLimitStage(GuardStage):
    """Token-bucket rate limiting per key and global; 429 with retry_after when exhausted."""

    name: ClassVar[str] = "ratelimit"
    description: ClassVar[str] = (
        "Token buckets per API key (or client) and global; 429 with retry_after when empty."
    )
    options_model: ClassVar[type[StageOptions]] = RateLimitOptions
    options: RateLimitOptions

    def check(self) -> None:
        """The backend options fit together, and a shared store answers (UsageError naming
        it otherwise), once at build time."""
        opts = self.options
        if opts.backend == "redis" and (opts.redis_url is None) == (opts.redis_url_env is None):
            raise UsageError(
                "stage ratelimit: backend redis needs one of redis_url or redis_url_env"
            )
        stray = [name for name in REDIS_ONLY if name in opts.model_fields_set]
        if opts.backend != "redis" and stray:
            raise UsageError(f"stage ratelimit: {stray[0]} needs backend: redis")
        backend = self.backend
        try:
            backend.connect()
        except UsageError as exc:
            raise UsageError(f"stage ratelimit: {exc}") from None

    @cached_property
    def backend(self) -> Backend:
        """The bucket store named by the `backend` option (built once per stage)."""
        opts = self.options
        settings = BackendSettings(
            max_tracked=opts.max_tracked,
            url=self._redis_url() if opts.backend == "redis" else None,
            key_prefix=opts.key_prefix,
            timeout_s=opts.redis_timeout_s,
        )
        return BACKENDS[opts.backend](settings)

    @cached_property
    def fallback(self) -> MemoryBackend:
        """Per-replica buckets used while the shared store is down (`on_backend_error:
        local`)."""
        return MemoryBackend(self.options.max_tracked)

    @cached_property
    def outage(self) -> Outage:
        """The shared store's up/down state."""
        return Outage(self.options.backend_retry_s)

    def _redis_url(self) -> str:
        """The redis URL from the option or from the environment variable it names."""
        if self.options.redis_url is not None:
            return self.options.redis_url
        env = str(self.options.redis_url_env)
        url = os.environ.get(env)
        if not url:
            raise UsageError(
                f"stage ratelimit: environment variable {env} (redis_url_env) is unset"
            )
        return url

    def on_request(self, request: GuardRequest) -> Decision:
        """Take the call's cost from its buckets; block 429 (413 when the cost can never
        fit a bucket) with the bucket and retry_after in the event."""
        buckets = self.buckets(request)
        if not buckets:
            return Decision.allow()
        cost = float(request.rows.shape[0]) if self.options.cost == "row" else 1.0
        too_big = next((b for b in buckets if cost > b.burst), None)
        if too_big is not None:
            reason = f"a call costing {cost:g} tokens exceeds the burst of {too_big.burst:g}"
            event = self.event(request, "rate_limited", Action.BLOCK, reason, status=413)
            return Decision.block(reason, 413, (event,))
        refusal, notes = self._take(request, buckets, cost)
        if refusal is None:
            return Decision.allow(notes)
        which = {GLOBAL: GLOBAL, UNAVAILABLE: UNAVAILABLE}.get(refusal.bucket, "per_key")
        if which == UNAVAILABLE:
            reason = f"rate-limit store unavailable; retry after {refusal.retry_after:.3g} s"
        else:
            reason = f"{which} rate limit exceeded; retry after {refusal.retry_after:.3g} s"
        event = self.event(
            request, "rate_limited", Action.BLOCK, reason,
            bucket=which, retry_after=refusal.retry_after, status=429,
        )  # fmt: skip
        return Decision.block(reason, 429, (*notes, event))

    def _take(
        self, request: GuardRequest, buckets: list[Bucket], cost: float
    ) -> tuple[Refusal | None, tuple[GuardEvent, ...]]:
        """Take from the configured backend; while a shared one is down, from the fallback
        that `on_backend_error` names, with one event when an outage starts or ends."""
        now = request.timestamp
        if self.options.backend == "memory":
            return self.backend.take(buckets, cost, now), ()
        if self.outage.should_try(now):
            try:
                refusal = self.backend.take(buckets, cost, now)
            except BackendError as exc:
                if self.outage.failed(now):
                    return self._degraded(buckets, cost, now), (self._down(request, exc),)
            else:
                since = self.outage.recovered()
                if since is None:
                    return refusal, ()
                detail = f"{self.options.backend} rate-limit store is back"
                back = self.event(
                    request, "backend_restored", Action.ALLOW, detail,
                    backend=self.options.backend, down_s=max(0.0, now - since),
                )  # fmt: skip
                return refusal, (back,)
        return self._degraded(buckets, cost, now), ()

    def _degraded(self, buckets: list[Bucket], cost: float, now: float) -> Refusal | None:
        """What a call gets while the shared store is down."""
        mode = self.options.on_backend_error
        if mode == "local":
            return self.fallback.take(buckets, cost, now)
        if mode == "allow":
            return None
        return Refusal(UNAVAILABLE, self.options.backend_retry_s)

    def _down(self, request: GuardRequest, exc: BackendError) -> GuardEvent:
        """The one event that says an outage started and what calls get meanwhile."""
        mode = self.options.on_backend_error
        meanwhile = {
            "local": "per-replica limits",
            "allow": "no limits",
            "block": "every call refused",
        }[mode]
        detail = f"rate-limit store unreachable ({exc}); {meanwhile} until it is back"
        action = Action.BLOCK if mode == "block" else Action.ALLOW
        return self.event(
            request, "backend_unavailable", action, detail,
            backend=self.options.backend, fallback=mode, retry_s=self.options.backend_retry_s,
        )  # fmt: skip

    def buckets(self, request: GuardRequest) -> list[Bucket]:
        """The buckets this request draws on: its own (when configured), then the global."""
        opts, found = self.options, []
        if opts.per_key is not None:
            found.append(Bucket(self.identity(request), opts.per_key.rate, opts.per_key.burst))
        if opts.global_ is not None:
            found.append(Bucket(GLOBAL, opts.global_.rate, opts.global_.burst))
        return found

    def identity(self, request: GuardRequest) -> str:
        """The per-key bucket name: `key:<id>:<digest>` for a key, `client:<id>` otherwise."""
        if self.options.by == "client" or request.key is None:
            return f"client:{request.client}"
        digest = hashlib.sha256(request.key.encode("utf-8")).hexdigest()[:24]
        return f"key:{key_id(request.key) or '-'}:{digest}"
