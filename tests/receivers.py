"""Real alert receivers for the tests, on 127.0.0.1: an HTTP server that checks the
webhook's HMAC signature as a receiver would (and keeps every POST), and an aiosmtpd SMTP
server with a login that keeps the messages it accepts. Imported by tests/integration and
tests/e2e (which put this folder on sys.path)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SECRET = "receiver-shared-secret"
SMTP_USER = "alerts@example.org"
SMTP_PASSWORD = "pw"
MAX_AGE_S = 300


class Receiver(BaseHTTPRequestHandler):
    """Keeps each POST (path, body) and whether its signature checked out under `secret`;
    answers 204 to a valid one (and to /slack, which is unsigned), 401 otherwise."""

    received: list[dict[str, Any]]
    secret: str = SECRET

    def do_POST(self) -> None:
        """Check the signature over the raw body, keep the request, answer."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers.get("X-Redwatch-Timestamp", "")
        given = self.headers.get("X-Redwatch-Signature", "")
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < MAX_AGE_S
        valid = fresh and hmac.compare_digest("sha256=" + mac.hexdigest(), given)
        self.received.append({"path": self.path, "body": json.loads(body), "valid": valid})
        self.send_response(204 if valid or self.path == "/slack" else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


class Mailbox:
    """aiosmtpd handler keeping every message it accepts as (recipients, message)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message."""
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    """Accept only SMTP_USER / SMTP_PASSWORD."""
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def http_receiver(secret: str = SECRET) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The HTTP receiver on 127.0.0.1 checking signatures under `secret`; its base URL and
    what it received. Shut down and joined on exit."""
    received: list[dict[str, Any]] = []
    handler = type("Handler", (Receiver,), {"received": received, "secret": secret})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@contextmanager
def smtp_receiver() -> Iterator[tuple[int, Mailbox]]:
    """An aiosmtpd server with a login (see `login`) on 127.0.0.1; its port and mailbox.
    Stopped on exit."""
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=login,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()
