"""Alert sinks against REAL receivers started here on 127.0.0.1: an HTTP server that checks
the webhook's HMAC signature like a receiver would, a Slack-style endpoint, and an aiosmtpd
SMTP server with a login that keeps the messages. Alerts flow the service's way: events
into the AlertHub, configured from an alerting file, stored with each sink's outcome."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from redwatch.alerts import load_alert_config
from redwatch.guard.stage import Action, GuardEvent
from redwatch.incidents.records import list_alerts
from redwatch.service.alert_hub import SERVICE_RULES, AlertHub
from redwatch.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import receivers
from receivers import SECRET, Mailbox


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The HTTP receiver on 127.0.0.1; its base URL and what it received."""
    with receivers.http_receiver(SECRET) as found:
        yield found


@pytest.fixture
def smtp_receiver() -> Iterator[tuple[int, Mailbox]]:
    """An aiosmtpd server with a login on 127.0.0.1; its port and mailbox."""
    with receivers.smtp_receiver() as found:
        yield found


def test_alerts_reach_real_webhook_slack_and_smtp_receivers(
    http_receiver: tuple[str, list[dict[str, Any]]],
    smtp_receiver: tuple[int, Mailbox],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, received = http_receiver
    port, mailbox = smtp_receiver
    monkeypatch.setenv("RW_HOOK_SECRET", SECRET)
    monkeypatch.setenv("RW_SMTP_USER", "alerts@example.org")
    monkeypatch.setenv("RW_SMTP_PASSWORD", "pw")
    sinks = [
        {"name": "webhook", "options": {"url": f"{base}/hook", "secret_env": "RW_HOOK_SECRET"}},
        {"name": "webhook", "options": {"url": f"{base}/unsigned", "retries": 0}},
        {"name": "slack", "options": {"url": f"{base}/slack", "channel": "#ml-sec"}},
        {
            "name": "smtp",
            "options": {
                "host": "127.0.0.1",
                "port": port,
                "from": "redwatch@example.org",
                "to": ["soc@example.org", "ml@example.org"],
                "username_env": "RW_SMTP_USER",
                "password_env": "RW_SMTP_PASSWORD",
            },
        },
    ]
    config_file = tmp_path / "alerts.yml"
    config_file.write_text(yaml.safe_dump({"sinks": sinks}), encoding="utf-8")
    config = load_alert_config(config_file, default_rules=SERVICE_RULES)
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        hub = AlertHub(store, config, window_s=3600.0)
        hub.start()
        try:
            event = GuardEvent("monitor", "integrity", Action.ALLOW, "model hash changed", "svc")
            hub.process([event], "credit")
            hub.flush()
        finally:
            hub.close()
        (alert,) = list_alerts(store)
    assert alert["data"]["sinks"] == {
        "webhook": "sent",
        "webhook#1": "failed: POST " + f"{base}/unsigned failed after 1 try: HTTP 401",
        "slack": "sent",
        "smtp": "sent",
    }
    hook = next(r for r in received if r["path"] == "/hook")
    assert hook["valid"]
    assert hook["body"]["alert"]["severity"] == "critical"
    assert hook["body"]["alert"]["source"] == "credit"
    slack = next(r for r in received if r["path"] == "/slack")
    assert slack["body"]["channel"] == "#ml-sec"
    assert "[CRITICAL] integrity on credit" in slack["body"]["text"]
    (recipients, mail) = mailbox.messages[0]
    assert recipients == ["soc@example.org", "ml@example.org"]
    assert mail["Subject"] == "[redwatch] CRITICAL: integrity on credit: model hash changed"
    assert "kind: integrity" in mail.get_payload()


def test_smtp_login_refused_is_recorded_not_raised(
    smtp_receiver: tuple[int, Mailbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, mailbox = smtp_receiver
    monkeypatch.setenv("RW_SMTP_USER", "alerts@example.org")
    monkeypatch.setenv("RW_SMTP_PASSWORD", "wrong")
    options = {
        "host": "127.0.0.1",
        "port": port,
        "from": "redwatch@example.org",
        "to": ["soc@example.org"],
        "username_env": "RW_SMTP_USER",
        "password_env": "RW_SMTP_PASSWORD",
    }
    config_file = tmp_path / "alerts.yml"
    config_file.write_text(yaml.safe_dump({"sinks": [{"name": "smtp", "options": options}]}))
    config = load_alert_config(config_file, default_rules=SERVICE_RULES)
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        hub = AlertHub(store, config, window_s=3600.0)
        hub.process([GuardEvent("monitor", "drift", Action.ALLOW, "psi 0.3", "svc")], "credit")
        hub.close()
        (alert,) = list_alerts(store)
    assert alert["data"]["sinks"]["smtp"].startswith(f"failed: SMTP 127.0.0.1:{port}: (535")
    assert mailbox.messages == []
