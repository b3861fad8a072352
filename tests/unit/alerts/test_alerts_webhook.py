"""Webhook, Slack and SMTP sinks without a network peer: HMAC signing and checking, option
validation as one-line UsageErrors, retries with bounded backoff against a local server
that fails first, and the shape of the Slack message and the e-mail."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from redwatch.alerts import Alert
from redwatch.alerts.sinks.slack import SlackSink, slack_message
from redwatch.alerts.sinks.smtp import SmtpSink
from redwatch.alerts.sinks.webhook import (
    MAX_BACKOFF_S,
    SIGNATURE_HEADER,
    DeliveryError,
    WebhookSink,
    sign,
    verify,
)
from redwatch.exceptions import UsageError
from redwatch.findings import Severity

ALERT = Alert(
    Severity.HIGH,
    "drift on credit: psi 0.4",
    "credit",
    "drift",
    "monitor",
    1,
    "a",
    "a",
    "monitor: d",
)


class Flaky(BaseHTTPRequestHandler):
    """Answers the first `fail` POSTs with `code`, then 200; keeps every body."""

    fail = 0
    code = 500
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(body)
        status = self.code if len(type(self).bodies) <= self.fail else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[tuple[str, type[Flaky]]]:
    """A local HTTP server on 127.0.0.1 whose handler class the test configures."""
    handler = type("Handler", (Flaky,), {"bodies": [], "fail": 0, "code": 500})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", handler
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_signature_verifies_and_rejects_tampering() -> None:
    secret, stamp, body = b"s3cret", "1750000000", b'{"a": 1}'
    signature = sign(secret, stamp, body)
    assert signature.startswith("sha256=")
    assert len(signature) == 7 + 64
    assert verify(secret, stamp, body, signature, max_age_s=1e12)
    assert not verify(secret, stamp, body + b" ", signature, max_age_s=1e12)
    assert not verify(b"other", stamp, body, signature, max_age_s=1e12)
    assert not verify(secret, stamp, body, signature, max_age_s=60)  # too old
    assert not verify(secret, "yesterday", body, signature)


@pytest.mark.parametrize(
    ("cls", "options", "message"),
    [
        (WebhookSink, {"url": "ftp://x/y"}, "url: expected an http:// or https:// URL"),
        (
            WebhookSink,
            {"url": "http://h/x", "secret_env": "RW_TEST_UNSET"},
            "RW_TEST_UNSET is not set",
        ),
        (WebhookSink, {"url": "http://h/x", "retries": 9}, "retries:"),
        (WebhookSink, {"url": "http://h/x", "colour": 1}, "colour: unknown option"),
        (SlackSink, {}, "url: Field required"),
        (SmtpSink, {"host": "h", "from": "a@b", "to": ["not an address"]}, "to:"),
        (SmtpSink, {"host": "h", "from": "a@b", "to": []}, "to:"),
        (SmtpSink, {"host": "h", "from": "a@b", "to": ["c@d"], "username_env": "U"}, "go together"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    cls: Any, options: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RW_TEST_UNSET", raising=False)
    with pytest.raises(UsageError) as caught:
        cls.from_options(options, where="alerts.yml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_webhook_retries_server_errors_with_bounded_backoff(
    server: tuple[str, type[Flaky]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = server
    handler.fail = 2
    monkeypatch.setenv("RW_TEST_SECRET", "k")
    sink = WebhookSink.from_options(
        {"url": url, "secret_env": "RW_TEST_SECRET", "retries": 3, "backoff_s": 20}
    )
    assert isinstance(sink, WebhookSink)
    waits: list[float] = []
    sink.sleep = waits.append
    sink.send(ALERT)
    assert len(handler.bodies) == 3
    assert waits == [20.0, min(40.0, MAX_BACKOFF_S)]
    payload = json.loads(handler.bodies[-1])
    assert payload["alert"]["id"] == ALERT.id
    assert payload["type"] == "redwatch.alert"


def test_webhook_gives_up_and_raises_without_retrying_client_errors(
    server: tuple[str, type[Flaky]],
) -> None:
    url, handler = server
    handler.fail, handler.code = 10, 404
    sink = WebhookSink.from_options({"url": url, "retries": 3})
    assert isinstance(sink, WebhookSink)
    sink.sleep = lambda _s: None
    with pytest.raises(DeliveryError, match="HTTP 404"):
        sink.send(ALERT)
    assert len(handler.bodies) == 1
    handler.code = 503
    with pytest.raises(DeliveryError, match=r"after 4 tries: HTTP 503"):
        sink.send(ALERT)
    assert len(handler.bodies) == 5


def test_unsigned_webhook_sends_no_signature() -> None:
    sink = WebhookSink.from_options({"url": "http://127.0.0.1:9/x"})
    assert isinstance(sink, WebhookSink)
    assert SIGNATURE_HEADER not in sink._headers(b"{}")


def test_slack_message_has_text_and_blocks() -> None:
    message = slack_message(ALERT)
    assert message["text"].endswith("[HIGH] drift on credit: psi 0.4")
    assert message["blocks"][0]["type"] == "section"
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert "*Target*\ncredit" in fields


def test_smtp_message_subject_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RW_U", "alice")
    monkeypatch.setenv("RW_P", "pw")
    options = {"host": "mail", "from": "rw@example.org", "to": ["a@example.org", "b@example.org"]}
    sink = SmtpSink.from_options({**options, "username_env": "RW_U", "password_env": "RW_P"})
    assert isinstance(sink, SmtpSink)
    assert sink.login == ("alice", "pw")
    mail = sink.message(ALERT)
    assert mail["Subject"] == "[redwatch] HIGH: drift on credit: psi 0.4"
    assert mail["To"] == "a@example.org, b@example.org"
    assert "kind: drift" in mail.get_content()


def test_smtp_unreachable_server_raises_delivery_error() -> None:
    sink = SmtpSink.from_options(
        {"host": "127.0.0.1", "port": 9, "from": "a@b.c", "to": ["d@e.f"], "timeout_s": 2}
    )
    with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1:9"):
        sink.send(ALERT)


def test_service_alerting_example_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from redwatch.alerts import load_alert_config
    from redwatch.service.alert_hub import SERVICE_RULES

    for name in ("REDWATCH_WEBHOOK_SECRET", "REDWATCH_SMTP_USER", "REDWATCH_SMTP_PASSWORD"):
        monkeypatch.setenv(name, "x")
    example = Path(__file__).parents[3] / "docs" / "examples" / "service.alerts.yml"
    config = load_alert_config(example, default_rules=SERVICE_RULES)
    assert [s.name for s in config.sinks] == ["log", "webhook", "slack", "smtp"]
    assert config.min_severity is Severity.MEDIUM
    assert config.rules.rule("campaign_completed") is None
    assert config.rules.rule("integrity") is not None
