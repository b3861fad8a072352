"""ratelimit: token buckets per API key (or per client) and one global bucket, refilled by
the request timestamp. A call that finds a bucket short is blocked 429 with `retry_after`
(seconds) in its event; a call that takes tokens takes them from both buckets or neither.

Place it after `auth`, so that the key it counts against is a verified one. Buckets are
named by a digest of the whole key, so a forged key with a victim's id never drains the
victim's bucket, and no key is kept in plain text.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import Field

from redwatch.guard.buckets import BACKENDS, Backend, Bucket
from redwatch.guard.keys import key_id
from redwatch.guard.stage import Action, Decision, GuardRequest, GuardStage, StageOptions

GLOBAL = "global"


class BucketOptions(StageOptions):
    """`rate` tokens per second, at most `burst` tokens (the largest burst of calls)."""

    rate: float = Field(gt=0, allow_inf_nan=False)
    burst: float = Field(ge=1, allow_inf_nan=False)


class RateLimitOptions(StageOptions):
    """Per-key and global buckets (either may be null to turn it off), what a call costs,
    who `per_key` counts (`key`: the API key, else the client; `client`: always the client),
    the backend, and how many per-key buckets are tracked at most."""

    per_key: BucketOptions | None = BucketOptions(rate=10.0, burst=20.0)
    global_: BucketOptions | None = Field(
        default=BucketOptions(rate=1000.0, burst=2000.0), alias="global"
    )
    cost: Literal["request", "row"] = "request"
    by: Literal["key", "client"] = "key"
    backend: Literal["memory"] = "memory"
    max_tracked: int = Field(default=100_000, ge=2)


class RateLimitStage(GuardStage):
    """Token-bucket rate limiting per key and global; 429 with retry_after when exhausted."""

    name: ClassVar[str] = "ratelimit"
    description: ClassVar[str] = (
        "Token buckets per API key (or client) and global; 429 with retry_after when empty."
    )
    options_model: ClassVar[type[StageOptions]] = RateLimitOptions
    options: RateLimitOptions

    @cached_property
    def backend(self) -> Backend:
        """The bucket store named by the `backend` option (built once per stage)."""
        return BACKENDS[self.options.backend](self.options.max_tracked)

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
        refusal = self.backend.take(buckets, cost, request.timestamp)
        if refusal is None:
            return Decision.allow()
        which = GLOBAL if refusal.bucket == GLOBAL else "per_key"
        reason = f"{which} rate limit exceeded; retry after {refusal.retry_after:.3g} s"
        event = self.event(
            request, "rate_limited", Action.BLOCK, reason,
            bucket=which, retry_after=refusal.retry_after, status=429,
        )  # fmt: skip
        return Decision.block(reason, 429, (event,))

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
