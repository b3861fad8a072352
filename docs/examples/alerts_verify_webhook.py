"""Receiving redwatch's webhook: check the HMAC-SHA256 signature before trusting an alert
(docs/alerts.md). Starts a receiver on 127.0.0.1, sends it one signed alert through the
webhook sink, and prints what the receiver concluded.

Run: python alerts_verify_webhook.py OUT_DIR
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from redwatch.alerts import Alert
from redwatch.alerts.sinks.webhook import WebhookSink
from redwatch.findings import Severity

SECRET = "a-long-random-secret-shared-with-redwatch"
MAX_AGE_S = 300


def signature_ok(secret: bytes, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver runs: recompute HMAC(secret, timestamp + "." + body), compare in
    constant time, and refuse old timestamps (replays)."""
    stamp = headers.get("X-Redwatch-Timestamp", "")
    given = headers.get("X-Redwatch-Signature", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_AGE_S:
        return False
    mac = hmac.new(secret, stamp.encode("ascii") + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), given)


class Receiver(BaseHTTPRequestHandler):
    """Answers 204 to a correctly signed alert, 401 otherwise."""

    verdicts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = signature_ok(SECRET.encode(), dict(self.headers.items()), body)
        alert = json.loads(body)["alert"]
        self.verdicts.append(
            f"{'verified' if ok else 'REJECTED'}: [{alert['severity']}] {alert['title']}"
        )
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
thread = threading.Thread(target=server.serve_forever, daemon=True)
thread.start()
os.environ["REDWATCH_WEBHOOK_SECRET"] = SECRET  # the service reads it from its environment
url = f"http://127.0.0.1:{server.server_address[1]}/redwatch"
sink = WebhookSink.from_options({"url": url, "secret_env": "REDWATCH_WEBHOOK_SECRET"})
alert = Alert(
    Severity.HIGH, "drift on credit: psi 0.41", "credit", "drift", "monitor", 1, "e1", "e1", ""
)
sink.send(alert)
os.environ["REDWATCH_WEBHOOK_SECRET"] = "someone-else"  # a sender without the secret
try:
    WebhookSink.from_options(
        {"url": url, "secret_env": "REDWATCH_WEBHOOK_SECRET", "retries": 0}
    ).send(alert)
except ConnectionError as exc:
    print(f"sender without the secret: {exc}")
server.shutdown()
server.server_close()
for verdict in Receiver.verdicts:
    print(f"receiver: {verdict}")
