"""The issue's "done when", end to end on a real `redwatch serve`: a new user creates the
first admin key, starts the service with a webhook and an SMTP sink (real receivers on
127.0.0.1), registers the demo credit model with a schedule, sees the scheduled campaign
run, drives drifting traffic through the in-service guard, receives the drift alert at the
webhook (signature checked) and by e-mail, opens the incident, applies the guard-policy
mitigation and sees the verifying re-scan on the incident's timeline and in its report."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd
import pytest
import yaml
from service_process import client, create_key, finished, serve, until

from redwatch.demo.models import train_credit_gbm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from receivers import SECRET, SMTP_PASSWORD, SMTP_USER, Mailbox, http_receiver, smtp_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
API = "/api/v1"
TARGET = "credit"
LABEL = "default"
WINDOW = 200
BATCH = 50
WAIT_S = 240.0


@dataclass
class Service:
    """The running service as the user sees it: an admin client, the key, the receivers."""

    http: httpx.Client
    key: str
    hooks: list[dict[str, Any]]
    mailbox: Mailbox


@pytest.fixture
def credit_files(tmp_path: Path) -> tuple[Path, Path]:
    """The demo credit model saved like `redwatch demo` saves it, and its held-out rows
    with the label as CSV."""
    demo = train_credit_gbm(seed=0)
    folder = tmp_path / "demo-credit-gbm"
    folder.mkdir()
    joblib.dump(demo.model, folder / "model.joblib")
    frame = pd.DataFrame(demo.x_test, columns=list(demo.feature_names))
    frame[LABEL] = demo.y_test
    frame.to_csv(folder / "data.csv", index=False)
    return folder / "model.joblib", folder / "data.csv"


def _alerts_file(path: Path, hook_url: str, smtp_port: int) -> Path:
    """An alerting file with a signed webhook sink and an SMTP sink (secrets from env)."""
    smtp = {
        "host": "127.0.0.1",
        "port": smtp_port,
        "from": "redwatch@example.org",
        "to": ["soc@example.org"],
        "username_env": "RW_SMTP_USER",
        "password_env": "RW_SMTP_PASSWORD",
    }
    sinks = [
        {"name": "webhook", "options": {"url": hook_url, "secret_env": "RW_HOOK_SECRET"}},
        {"name": "smtp", "options": smtp},
    ]
    path.write_text(yaml.safe_dump({"sinks": sinks}), encoding="utf-8")
    return path


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """Receivers, the first admin key, and `redwatch serve --alerts ... --tick 0.5`."""
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    env.update(RW_HOOK_SECRET=SECRET, RW_SMTP_USER=SMTP_USER, RW_SMTP_PASSWORD=SMTP_PASSWORD)
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    with ExitStack() as stack:
        base, hooks = stack.enter_context(http_receiver(SECRET))
        port, mailbox = stack.enter_context(smtp_receiver())
        alerts = _alerts_file(tmp_path / "alerts.yml", f"{base}/hook", port)
        key = create_key(env, db_url, "first-admin", "admin")
        log = tmp_path / "serve.log"
        _, url = stack.enter_context(serve(env, db_url, log, ["--alerts", str(alerts)]))
        http = stack.enter_context(client(url, {"X-API-Key": key}))
        yield Service(http, key, hooks, mailbox)


def _get(http: httpx.Client, path: str, **params: Any) -> Any:
    """GET a JSON answer, asserting 200."""
    answer = http.get(f"{API}{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _register(http: httpx.Client, model: Path, data: Path) -> None:
    """Register the credit model with an hourly schedule, two quick probes, a small window."""
    spec = {
        "name": TARGET,
        "model": str(model),
        "data": str(data),
        "label": LABEL,
        "probes": ["evasion.sensitivity", "evasion.tree_walk"],
        "params": {"evasion.tree_walk": {"samples": 200, "reference_epsilon": 0.1}},
        "budget_seconds": 60,
        "schedule": {"interval_s": 3600},
        "monitor": {"window": WINDOW},
    }
    answer = http.post(f"{API}/targets", json=spec)
    assert answer.status_code == 201, answer.text


def _scheduled_campaign(http: httpx.Client) -> dict[str, Any]:
    """The scheduler's first job runs to completion; its campaign is listed with findings."""
    jobs = until(
        "the scheduled job",
        lambda: _get(http, "/jobs", target=TARGET, reason="schedule"),
        WAIT_S,
    )
    done = finished(http, jobs[0]["id"], WAIT_S)
    assert done["status"] == "completed", done["error"]
    campaigns = {c["id"]: c for c in _get(http, "/campaigns", target=TARGET)}
    campaign = campaigns[done["campaign_id"]]
    assert campaign["status"] == "completed"
    assert campaign["findings"] > 0, campaign
    return dict(campaign)


def _drift_traffic(http: httpx.Client, data: Path) -> list[dict[str, Any]]:
    """Held-out rows with balance doubled, through the guard, until the monitor's window
    fills and it raises drift events."""
    frame = pd.read_csv(data).drop(columns=[LABEL])
    frame["balance"] = frame["balance"] * 2
    rows = frame.to_numpy().tolist()
    for start in range(0, WINDOW, BATCH):
        answer = http.post(
            f"{API}/targets/{TARGET}/predict", json={"instances": rows[start : start + BATCH]}
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["labels"]) == BATCH
    events = until(
        "drift events",
        lambda: _get(http, "/events", source=TARGET, kind="drift"),
        WAIT_S,
        every_s=0.5,
    )
    assert "balance" in {e["data"]["feature"] for e in events}
    return list(events)


def _drift_hook(hooks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first drift alert the webhook receiver got."""
    found = [h for h in hooks if h["body"]["alert"]["kind"] == "drift"]
    return found[0] if found else None


def _drift_mail(mailbox: Mailbox) -> Any:
    """The first e-mail whose subject is about drift."""
    found = [m for _, m in mailbox.messages if "drift" in m["Subject"]]
    return found[0] if found else None


def _alert_delivered(service: Service) -> dict[str, Any]:
    """The drift alert reached the webhook (signature valid) and the mailbox."""
    hook = until("the drift alert at the webhook", lambda: _drift_hook(service.hooks), WAIT_S)
    assert hook["path"] == "/hook"
    assert hook["valid"], "the webhook's HMAC signature did not verify"
    alert = hook["body"]["alert"]
    assert alert["source"] == TARGET
    mail = until("the drift alert by e-mail", lambda: _drift_mail(service.mailbox), WAIT_S)
    assert f"{alert['severity'].upper()}: drift" in mail["Subject"]
    return dict(alert)


def _drift_incident(http: httpx.Client, alert_id: str) -> dict[str, Any]:
    """The open drift incident of the target, with the delivered alert on its timeline."""
    listed = _get(http, "/incidents", target=TARGET)
    drift = [i for i in listed if i["cause"] == "drift"]
    assert len(drift) == 1, listed
    incident = _get(http, f"/incidents/{drift[0]['id']}")
    assert incident["status"] == "open"
    assert incident["cause"] == "drift"
    alerts = [e["data"]["alert_id"] for e in incident["timeline"] if e["kind"] == "alert"]
    assert alert_id in alerts, incident["timeline"]
    assert any(a["kind"] == "drift" for a in incident["alerts"])
    return dict(incident)


def _mitigate(http: httpx.Client, incident_id: int) -> dict[str, Any]:
    """Apply the guard-policy mitigation: an active policy, the incident mitigated."""
    answer = http.post(f"{API}/incidents/{incident_id}/mitigate", json={"action": "guard_policy"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["policy"]["active"]
    assert body["job_id"], body
    assert body["answered"], body
    print(f"mitigation answers {body['answered']}; cannot answer {body['unanswered']}")
    active = [p for p in _get(http, f"/targets/{TARGET}/policies") if p["active"]]
    assert [p["id"] for p in active] == [body["policy"]["id"]]
    incident = _get(http, f"/incidents/{incident_id}")
    assert "mitigation" in [e["kind"] for e in incident["timeline"]]
    assert incident["status"] == "mitigated"
    return dict(body)


def _verification(http: httpx.Client, incident_id: int) -> dict[str, Any] | None:
    """The incident's verification entry, once there is one."""
    timeline = _get(http, f"/incidents/{incident_id}")["timeline"]
    found = [e for e in timeline if e["kind"] == "verification"]
    return found[0] if found else None


def _verified(http: httpx.Client, incident_id: int, job_id: str) -> dict[str, Any]:
    """The verify job completes and its verdict lands on the timeline; prints the figure."""
    job = finished(http, job_id, WAIT_S)
    assert job["status"] == "completed", job["error"]
    assert job["reason"] == "verify"
    entry = until("the verification entry", lambda: _verification(http, incident_id), WAIT_S)
    assert entry["data"]["campaign_id"] == job["campaign_id"]
    print(f"verification of incident {incident_id}: {entry['text']}")
    audit = _get(http, "/audit")
    verdicts = [a for a in audit if a["action"] == "mitigations.verify"]
    assert verdicts, [a["action"] for a in audit]
    print(f"verification figures: {verdicts[0]['detail'].get('figures')}")
    passed = bool(entry["data"]["passed"])
    status = _get(http, f"/incidents/{incident_id}")["status"]
    assert status == ("closed" if passed else "open")  # a failed verification reopens it
    kind = "mitigation_verified" if passed else "mitigation_failed"
    assert _get(http, "/events", source=TARGET, kind=kind)
    return dict(job)


def _report_names_the_fix(http: httpx.Client, incident_id: int, policy: int, campaign: str) -> None:
    """The Markdown post-incident report names the mitigation and the verifying campaign."""
    answer = http.get(f"{API}/incidents/{incident_id}/report", params={"format": "md"})
    assert answer.status_code == 200, answer.text
    text = answer.text
    assert f"guard policy {policy}" in text
    assert campaign[:12] in text


def _audit_and_dashboard(service: Service) -> None:
    """The audit log lists the registration and the mitigation; the overview page renders
    for the key's cookie."""
    actions = [a["action"] for a in _get(service.http, "/audit")]
    assert "targets.register" in actions
    assert "incidents.mitigate" in actions
    page = httpx.get(f"{service.http.base_url}/", cookies={"redwatch_key": service.key}, timeout=60)
    assert page.status_code == 200, page.text[:500]
    assert TARGET in page.text


def test_new_user_scan_drift_alert_incident_mitigation_and_verification(
    service: Service, credit_files: tuple[Path, Path]
) -> None:
    model, data = credit_files
    http = service.http
    _register(http, model, data)
    campaign = _scheduled_campaign(http)
    print(f"scheduled campaign {campaign['id'][:12]}: {campaign['counts']}")
    drift = _drift_traffic(http, data)
    print(f"drift events: {[(e['data']['feature'], e['data']['test']) for e in drift]}")
    alert = _alert_delivered(service)
    incident = _drift_incident(http, alert["id"])
    mitigation = _mitigate(http, incident["id"])
    job = _verified(http, incident["id"], mitigation["job_id"])
    _report_names_the_fix(http, incident["id"], mitigation["policy"]["id"], job["campaign_id"])
    _audit_and_dashboard(service)
