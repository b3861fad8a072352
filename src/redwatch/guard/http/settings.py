"""ProxySettings: the limits and timeouts of the HTTP guard (proxy and middleware), in one
frozen value so that a deployment states them once and every part reads the same numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from redwatch.exceptions import UsageError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ProxySettings:
    """Body cap and read deadline (slow clients), upstream connect and answer timeouts, and
    the circuit breaker: open after `breaker_failures` consecutive failures, try one request
    again after `breaker_reset_s`. `max_connections` bounds the upstream connection pool."""

    max_body_bytes: int = MIB
    body_timeout_s: float = 10.0
    connect_timeout_s: float = 2.0
    upstream_timeout_s: float = 10.0
    breaker_failures: int = 5
    breaker_reset_s: float = 10.0
    max_connections: int = 100

    def check(self) -> ProxySettings:
        """Self, or one UsageError line naming the first setting that is not positive."""
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"proxy setting {item.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise UsageError(f"proxy setting {item.name} must be positive, got {value!r}")
        return self
