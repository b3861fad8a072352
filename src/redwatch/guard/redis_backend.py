"""Token buckets in Redis, so that guard replicas (proxies, workers) share one set of limits.

`RedisBackend.take` runs one server-side Lua script over all of a call's buckets: Redis runs
a script alone, so the check (every bucket holds the cost) and the take (from each) are one
atomic step for every replica. The refill math is MemoryBackend's, with the request's
timestamp as the clock; each bucket is a hash {t: tokens, l: last} that expires after
`burst / rate` seconds idle (by then it would be full, so forgetting it changes nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redwatch.exceptions import UsageError, first_line
from redwatch.guard.buckets import BackendError, Bucket, Refusal

DEFAULT_PREFIX = "redwatch:ratelimit:"

# KEYS: bucket hashes. ARGV: cost, now, then per bucket: rate, burst, idle ttl in ms.
# Every bucket is brought forward to `now` (as MemoryBackend does, refusal or not); returns
# nil when every bucket held the cost (and it was taken from each), else {index of the
# bucket with the longest wait (0-based), the wait in seconds as text}.
TAKE_SCRIPT = """
local cost = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local tokens, lasts = {}, {}
local worst, worst_wait = nil, -1
for i = 1, #KEYS do
  local rate = tonumber(ARGV[3 * i])
  local burst = tonumber(ARGV[3 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 't', 'l')
  local level, last = burst, now
  if state[1] and state[2] then
    level = tonumber(state[1])
    last = tonumber(state[2])
    level = math.min(burst, level + math.max(0, now - last) * rate)
    last = math.max(last, now)
  end
  tokens[i], lasts[i] = level, last
  if level < cost then
    local wait = (cost - level) / rate
    if wait > worst_wait then
      worst, worst_wait = i, wait
    end
  end
end
local taken = cost
if worst then
  taken = 0
end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 't', string.format('%.17g', tokens[i] - taken),
             'l', string.format('%.17g', lasts[i]))
  redis.call('PEXPIRE', KEYS[i], ARGV[3 * i + 2])
end
if worst then
  return {worst - 1, string.format('%.17g', worst_wait)}
end
return false
"""


def masked_url(url: str) -> str:
    """The URL with any password replaced by ***, safe for error lines and events."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def idle_ttl_ms(bucket: Bucket) -> int:
    """Milliseconds after which an untouched bucket is full again (at least 1)."""
    return max(1, math.ceil(bucket.burst / bucket.rate * 1000.0))


class RedisBackend:
    """Buckets shared through one Redis server (`url`: redis://, rediss:// or unix://).

    Keys are `key_prefix` + bucket name; for Redis Cluster put a hash tag in the prefix
    (e.g. `{redwatch}:rl:`) so that one call's buckets live on one node. `timeout_s` bounds
    connecting and every command; `connect()` checks the server at build time."""

    def __init__(self, url: str, *, key_prefix: str = DEFAULT_PREFIX, timeout_s: float = 0.25):
        self.url = url
        self.key_prefix = key_prefix
        self.timeout_s = timeout_s

    @cached_property
    def client(self) -> Any:
        """A redis-py client (thread-safe connection pool) with one retry on a broken
        connection, so that a restarted server costs no call an error."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        try:
            return redis.Redis.from_url(
                self.url,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as exc:
            raise UsageError(f"bad redis url {masked_url(self.url)} ({first_line(exc)})") from None

    @cached_property
    def script(self) -> Any:
        """The take script, registered (EVALSHA, loading it again after a server restart)."""
        return self.client.register_script(TAKE_SCRIPT)

    def connect(self) -> None:
        """Ping the server and load the script; UsageError naming the URL when unreachable."""
        import redis

        try:
            self.client.ping()
            self.client.script_load(TAKE_SCRIPT)
        except redis.RedisError as exc:
            raise UsageError(
                f"cannot reach redis at {masked_url(self.url)} ({first_line(exc)})"
            ) from None

    def take(self, buckets: Sequence[Bucket], cost: float, now: float) -> Refusal | None:
        """See Backend.take: atomic over `buckets` on the server; BackendError when the
        server cannot be asked (the caller decides what that means)."""
        import redis

        if not buckets:
            return None
        keys = [self.key_prefix + b.name for b in buckets]
        args: list[str] = [repr(float(cost)), repr(float(now))]
        for bucket in buckets:
            args += [repr(float(bucket.rate)), repr(float(bucket.burst)), str(idle_ttl_ms(bucket))]
        try:
            answer = self.script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise BackendError(
                f"redis at {masked_url(self.url)}: {type(exc).__name__}: {first_line(exc)}"
            ) from None
        if answer is None:
            return None
        index, wait = answer
        return Refusal(buckets[int(index)].name, float(wait))

    def close(self) -> None:
        """Drop the client's connections (tests and shutdown)."""
        if "client" in self.__dict__:
            self.client.close()
