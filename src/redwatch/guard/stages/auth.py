"""auth: API keys (stored as salted scrypt hashes), per-key roles and quotas, and
intrusion events for bursts of failed authentication from one client.

No key or a wrong key is 401, a role without the called method 403, an exhausted quota 429.
State is bounded: quota counters are per listed key, failure tracking is an LRU of clients.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from redwatch.exceptions import UsageError
from redwatch.guard.context import StageContext
from redwatch.guard.keys import KEY_ID_PATTERN, StoredKey, key_id, parse_stored, verify_api_key
from redwatch.guard.lru import LruMap
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardEvent,
    GuardRequest,
    GuardStage,
    StageOptions,
)

WINDOW_SECONDS = {"hour": 3600.0, "day": 86400.0}
Method = Literal["predict", "predict_proba"]
DEFAULT_ROLES: dict[str, list[Method]] = {
    "labels": ["predict"],
    "scores": ["predict", "predict_proba"],
}


class QuotaOptions(StageOptions):
    """At most `requests` calls per fixed window (`hour` or `day`, aligned to UTC epoch)."""

    requests: int = Field(ge=1)
    per: Literal["hour", "day"] = "day"


class KeyEntry(StageOptions):
    """One API key in the policy: id, stored hash (never the key), role, optional quota."""

    id: str = Field(pattern=KEY_ID_PATTERN)
    hash: str
    role: str
    quota: QuotaOptions | None = None

    @field_validator("hash")
    @classmethod
    def _stored_form(cls, value: str) -> str:
        """Only the stored form is accepted, so a plain key never sits in a policy."""
        try:
            parse_stored(value)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return value


class AuthOptions(StageOptions):
    """Keys, roles (role -> model methods), and the failed-auth burst that is an intrusion."""

    keys: list[KeyEntry] = Field(default_factory=list)
    roles: dict[str, list[Method]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ROLES.items()}
    )
    intrusion_failures: int = Field(default=5, ge=1)
    intrusion_window: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    max_tracked_clients: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> AuthOptions:
        """Key ids are unique and every key's role is defined."""
        seen: set[str] = set()
        for entry in self.keys:
            if entry.id in seen:
                raise ValueError(f"key id {entry.id!r} is listed twice")
            if entry.role not in self.roles:
                known = ", ".join(sorted(self.roles)) or "none"
                raise ValueError(f"key {entry.id!r} has unknown role {entry.role!r} ({known})")
            seen.add(entry.id)
        return self


@dataclass
class _Failures:
    """Recent failed-auth times of one client, and until when a burst was already reported."""

    times: deque[float]
    reported_until: float = -math.inf


@dataclass
class _Quota:
    """Calls counted in the current quota window of one key."""

    window: int = -1
    used: int = 0


@dataclass
class _State:
    """Mutable stage state, guarded by one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    verified: dict[bytes, str] = field(default_factory=dict)
    quotas: dict[str, _Quota] = field(default_factory=dict)


class AuthStage(GuardStage):
    """API-key authentication with roles and quotas; failed-auth bursts are intrusion events."""

    name: ClassVar[str] = "auth"
    description: ClassVar[str] = (
        "Check hashed API keys, per-key roles and quotas; failed-auth bursts raise intrusions."
    )
    options_model: ClassVar[type[StageOptions]] = AuthOptions
    options: AuthOptions

    def __init__(self, options: StageOptions, context: StageContext | None = None) -> None:
        super().__init__(options, context)
        self._pepper = secrets.token_bytes(32)
        self._state = _State()

    @cached_property
    def _keys(self) -> dict[str, tuple[KeyEntry, StoredKey]]:
        """Policy entries by id, with their parsed stored hashes."""
        return {entry.id: (entry, parse_stored(entry.hash)) for entry in self.options.keys}

    @cached_property
    def _failures(self) -> LruMap[str, _Failures]:
        """Failed-auth tracking, at most max_tracked_clients clients."""
        return LruMap(self.options.max_tracked_clients)

    @property
    def tracked_clients(self) -> int:
        """How many clients' failed authentications are tracked now (<= max_tracked_clients)."""
        with self._state.lock:
            return len(self._failures)

    def on_request(self, request: GuardRequest) -> Decision:
        """401 without a valid key, 403 when the role may not call the method, 429 when the
        key's quota is spent; allow otherwise."""
        if request.key is None:
            return self._fail(request, None, "no API key")
        ident = self._authenticate(request.key)
        if ident is None:
            return self._fail(request, key_id(request.key), "invalid API key")
        entry = self._keys[ident][0]
        if request.method not in self.options.roles[entry.role]:
            reason = f"key {ident} (role {entry.role}) may not call {request.method}"
            event = self.event(request, "forbidden", Action.BLOCK, reason, key_id=ident, status=403)
            return Decision.block(reason, 403, (event,))
        return self._charge(request, entry)

    def _authenticate(self, key: str) -> str | None:
        """The id of the listed key that `key` is, None otherwise. A verified key is
        remembered by a keyed digest (never the key), so scrypt runs once per key."""
        ident = key_id(key)
        if ident is None or ident not in self._keys:
            return None
        tag = hmac.new(self._pepper, key.encode("utf-8"), hashlib.sha256).digest()
        with self._state.lock:
            if self._state.verified.get(tag) == ident:
                return ident
        if not verify_api_key(key, self._keys[ident][1]):
            return None
        with self._state.lock:
            self._state.verified[tag] = ident  # at most one entry per listed key
        return ident

    def _charge(self, request: GuardRequest, entry: KeyEntry) -> Decision:
        """Count the call against the key's quota window; 429 with retry_after when spent."""
        quota = entry.quota
        if quota is None:
            return Decision.allow()
        seconds = WINDOW_SECONDS[quota.per]
        window = math.floor(request.timestamp / seconds)
        with self._state.lock:
            used = self._state.quotas.setdefault(entry.id, _Quota())
            if used.window != window:
                used.window, used.used = window, 0
            if used.used < quota.requests:
                used.used += 1
                return Decision.allow()
        retry = (window + 1) * seconds - request.timestamp
        reason = f"key {entry.id} used its quota of {quota.requests} requests per {quota.per}"
        event = self.event(
            request, "quota_exceeded", Action.BLOCK, reason,
            key_id=entry.id, status=429, retry_after=retry,
        )  # fmt: skip
        return Decision.block(reason, 429, (event,))

    def _fail(self, request: GuardRequest, ident: str | None, reason: str) -> Decision:
        """Block 401 with an auth_failed event, plus an intrusion event when this failure
        completes a burst from the client."""
        data: dict[str, Any] = {"status": 401}
        if ident is not None:
            data["key_id"] = ident
        events = [self.event(request, "auth_failed", Action.BLOCK, reason, **data)]
        burst = self._record_failure(request.client, request.timestamp)
        if burst is not None:
            events.append(burst_event(self, request, burst, self.options.intrusion_window))
        return Decision.block(reason, 401, tuple(events))

    def _record_failure(self, client: str, now: float) -> int | None:
        """Note a failure; the number of failures in the window when they reach a burst that
        was not reported yet, None otherwise."""
        opts = self.options
        with self._state.lock:
            track = self._failures.get_or_create(
                client, lambda: _Failures(deque(maxlen=opts.intrusion_failures))
            )
            while track.times and track.times[0] <= now - opts.intrusion_window:
                track.times.popleft()
            track.times.append(now)
            if len(track.times) < opts.intrusion_failures or now < track.reported_until:
                return None
            track.reported_until = now + opts.intrusion_window
            return len(track.times)


def burst_event(
    stage: GuardStage, request: GuardRequest, failures: int, window: float
) -> GuardEvent:
    """The intrusion event for `failures` failed authentications within `window` seconds."""
    detail = f"{failures} failed authentications from {request.client} within {window:g} s"
    return stage.event(
        request, "intrusion", Action.BLOCK, detail, failures=failures, window_s=window
    )
