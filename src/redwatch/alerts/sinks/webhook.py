"""The `webhook` alert sink: each alert as a JSON POST, signed with HMAC-SHA256 over the
timestamp and the body so that a receiver can check who sent it and that it is fresh.

Headers: `X-Redwatch-Timestamp` (epoch seconds) and `X-Redwatch-Signature`
(`sha256=<hex of HMAC(secret, timestamp + "." + body)>`). The secret comes from the
environment variable that `secret_env` names, never from the alerting file itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from redwatch import __version__
from redwatch.alerts.alert import Alert
from redwatch.alerts.sinks.base import AlertSink, SinkOptions
from redwatch.exceptions import UsageError

TIMESTAMP_HEADER = "X-Redwatch-Timestamp"
SIGNATURE_HEADER = "X-Redwatch-Signature"
MAX_BACKOFF_S = 30.0


class DeliveryError(ConnectionError):
    """An alert could not be delivered after every retry (the dispatcher records it)."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: bytes, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300.0
) -> bool:
    """True when `signature` is ours for this body and the timestamp is recent."""
    try:
        age = abs(time.time() - float(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _http_url(value: str) -> str:
    """An http(s) URL, or ValueError naming what is wrong."""
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def env_secret(name: str | None, what: str) -> str | None:
    """The value of environment variable `name` (None when no name is given); UsageError
    when the variable is unset or empty."""
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise UsageError(f"{what}: environment variable {name} is not set")
    return value


class PostOptions(SinkOptions):
    """Options of every sink that POSTs JSON: where, how long to wait, how often to retry."""

    url: str
    timeout_s: float = Field(default=5.0, gt=0, le=60, allow_inf_nan=False)
    retries: int = Field(default=2, ge=0, le=5)
    backoff_s: float = Field(default=0.5, ge=0, le=MAX_BACKOFF_S, allow_inf_nan=False)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        """Only http(s) URLs."""
        return _http_url(value)


class WebhookOptions(PostOptions):
    """`secret_env`: the environment variable holding the HMAC secret (None: unsigned);
    `headers`: extra request headers (e.g. a receiver's token name)."""

    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    headers: dict[str, str] = Field(default_factory=dict)


class JsonPoster:
    """POSTs JSON with bounded retries: a connection error or a 5xx answer is retried
    after backoff_s, 2*backoff_s, ... (each wait at most MAX_BACKOFF_S); a 4xx is final."""

    def __init__(self, options: PostOptions, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.sleep = sleep

    def post(self, body: bytes, headers: Callable[[], Mapping[str, str]]) -> int:
        """Send `body` (fresh headers per try); the HTTP status, or DeliveryError."""
        last = ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                self.sleep(min(self.options.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))
            try:
                return self._once(body, headers())
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code < 500:
                    break
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
        tries = "try" if self.options.retries == 0 else "tries"
        raise DeliveryError(
            f"POST {self.options.url} failed after {self.options.retries + 1} {tries}: {last}"
        )

    def _once(self, body: bytes, headers: Mapping[str, str]) -> int:
        """One POST; HTTPError for 4xx/5xx answers."""
        request = urllib.request.Request(
            self.options.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"redwatch/{__version__}",
                **headers,
            },
        )
        with urllib.request.urlopen(request, timeout=self.options.timeout_s) as answer:
            answer.read()
            return int(answer.status)


class RemoteSink(AlertSink):
    """Base of the sinks that reach another server: unknown option keys are reported
    before missing ones, since a misspelt key is the likelier mistake."""

    @classmethod
    def from_options(
        cls, raw: Mapping[str, Any] | None, *, where: str = "alerts", base_dir: Path | None = None
    ) -> AlertSink:
        """Like AlertSink.from_options, naming the first unknown key first."""
        fields = cls.options_model.model_fields
        known = {name for name in fields} | {f.alias for f in fields.values() if f.alias}
        unknown = sorted(str(key) for key in (raw or {}) if key not in known)
        if unknown:
            raise UsageError(f"{where}: sink {cls.name}: {unknown[0]}: unknown option")
        return super().from_options(raw, where=where, base_dir=base_dir)


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The webhook body: a type tag and the alert's JSON form."""
    return {"type": "redwatch.alert", "version": 1, "alert": alert.to_dict()}


class WebhookSink(RemoteSink):
    """One signed JSON POST per alert; raises DeliveryError when every try failed."""

    name: ClassVar[str] = "webhook"
    description: ClassVar[str] = (
        "JSON POST per alert, HMAC-SHA256 signed (timestamp + body), retried with backoff."
    )
    options_model: ClassVar[type[SinkOptions]] = WebhookOptions

    def __init__(
        self,
        options: WebhookOptions,
        secret: str | None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.secret = secret
        self.clock = clock
        self.sleep = sleep

    @classmethod
    def build(cls, options: SinkOptions, base_dir: Path) -> WebhookSink:
        """A webhook sink; UsageError when the named secret variable is unset."""
        assert isinstance(options, WebhookOptions)
        return cls(options, env_secret(options.secret_env, "sink webhook: secret_env"))

    def send(self, alert: Alert) -> None:
        """POST the alert; DeliveryError after the last failed try."""
        body = json.dumps(alert_payload(alert), ensure_ascii=False).encode("utf-8")
        JsonPoster(self.options, self.sleep).post(body, lambda: self._headers(body))

    def _headers(self, body: bytes) -> dict[str, str]:
        """Extra headers plus, with a secret, a fresh timestamp and its signature."""
        headers = dict(self.options.headers)
        if self.secret is not None:
            stamp = str(int(self.clock()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign(self.secret.encode("utf-8"), stamp, body)
        return headers
