"""Incidents in a real SQLite store, written by the service's AlertHub: rules and severity
floors, de-duplication, rate limiting, min_severity, grouping into incidents, sink outcomes,
the status lifecycle, verification, and the post-incident report in HTML and Markdown."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from redwatch.alerts import Alert, AlertConfig, AlertSink, Rule, RuleSet
from redwatch.findings import Severity
from redwatch.guard.stage import Action, GuardEvent
from redwatch.incidents import repo
from redwatch.incidents.records import list_alerts
from redwatch.incidents.report import incident_report
from redwatch.service.alert_hub import SERVICE_RULES, AlertHub
from redwatch.store import Store
from redwatch.store.service_models import ObservationRow

T0 = 1_750_000_000.0


class ListSink(AlertSink):
    """Keeps what it was sent."""

    name = "list"
    description = "keeps alerts"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


class DownSink(AlertSink):
    """Always fails."""

    name = "down"
    description = "fails"

    def send(self, alert: Alert) -> None:
        raise ConnectionError("receiver unreachable")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store."""
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as opened:
        yield opened


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def hub(
    store: Store, *rules: Rule, min_severity: Severity | None = None, dedup_s: float = 300
) -> tuple[AlertHub, Clock]:
    """An AlertHub (not started: flush() runs the queue inline) with a list and a down sink."""
    config = AlertConfig(
        RuleSet(SERVICE_RULES).merged(rules), (ListSink(), DownSink()), dedup_s, min_severity
    )
    clock = Clock()
    return AlertHub(store, config, window_s=3600.0, clock=clock), clock


def ev(kind: str, at: float = 0.0, **data: Any) -> GuardEvent:
    """A service event at T0 + at."""
    return GuardEvent("monitor", kind, Action.ALLOW, f"{kind} seen", "service", data, T0 + at)


def test_hub_groups_alerts_into_incidents_and_records_sink_outcomes(store: Store) -> None:
    alert_hub, clock = hub(store)
    finding = {"category": "evasion", "severity": "critical", "fingerprint": "f1"}
    alert_hub.process([ev("drift", feature="age"), ev("finding_new", **finding)], "credit")
    alert_hub.process([ev("campaign_completed"), ev("not_a_rule_kind")], "credit")
    alert_hub.flush()
    clock.now += 10
    alert_hub.process([ev("performance", 10).to_dict()], "credit")  # mapping form works too
    alert_hub.flush()
    alerts = list_alerts(store)
    assert alerts[0]["kind"] == "performance"  # newest first
    assert sorted(a["kind"] for a in alerts) == ["drift", "finding_new", "performance"]
    by_kind = {a["kind"]: a for a in alerts}
    assert by_kind["finding_new"]["severity"] == "critical"  # the finding's own severity
    assert by_kind["drift"]["severity"] == "medium"
    assert by_kind["drift"]["data"]["sinks"] == {
        "list": "sent",
        "down": "failed: receiver unreachable",
    }
    incidents = repo.list_incidents(store)
    assert sorted((i["cause"], i["alerts"]) for i in incidents) == [
        ("drift", 2),
        ("finding:evasion", 1),
    ]
    drift = next(i for i in incidents if i["cause"] == "drift")
    assert drift["severity"] == "high"  # max of medium drift and high performance
    assert by_kind["performance"]["incident_id"] == drift["id"]
    sink = alert_hub.config.sinks[0]
    assert isinstance(sink, ListSink)
    assert len(sink.alerts) == 3


def test_dedup_rate_limit_and_min_severity(store: Store) -> None:
    alert_hub, clock = hub(
        store, Rule("anomaly", Severity.MEDIUM, max_per_hour=1), min_severity=Severity.MEDIUM
    )
    alert_hub.process([ev("drift"), ev("drift", 1), ev("drift", 2)], "credit")
    alert_hub.process(
        [ev("campaign_failed"), ev("finding_new", severity="low", category="x")], "credit"
    )
    alert_hub.flush()
    first = sorted((a["kind"], a["count"]) for a in list_alerts(store))
    assert first == [("campaign_failed", 1), ("drift", 1)]  # low finding below the floor
    clock.now += 301  # dedup window over: the next drift alert carries the 2 held back
    alert_hub.process([ev("drift", 301)], "credit")
    alert_hub.process(
        [GuardEvent("g", "anomaly", Action.BLOCK, "odd", f"c{i}") for i in range(2)], "credit"
    )
    alert_hub.flush()
    alerts = list_alerts(store)
    assert next(a for a in alerts if a["kind"] == "drift")["count"] == 3
    anomalies = [a for a in alerts if a["kind"] == "anomaly"]
    assert len(anomalies) == 2  # both stored ...
    assert sorted(bool(a["data"]["sinks"]) for a in anomalies) == [False, True]  # one sent
    assert any(a["data"]["event"].get("rate_limited") for a in anomalies)


def test_lifecycle_transitions_and_verification(store: Store) -> None:
    alert_hub, _clock = hub(store)
    alert_hub.process([ev("integrity", check="hash")], "credit")
    alert_hub.flush()
    (incident,) = repo.list_incidents(store)
    number = incident["id"]
    assert incident["severity"] == "critical"
    with pytest.raises(repo.TransitionError, match="is open; it cannot become closed"):
        repo.update_status(store, number, "closed", "alice")
    repo.record_mitigation(store, number, "alice", "restored the signed model", {"version": "3"})
    assert repo.get_incident(store, number)["status"] == "mitigated"
    repo.record_verification(store, number, "camp1", False, "hash still differs")
    assert repo.get_incident(store, number)["status"] == "open"  # the fix did not hold
    repo.update_status(store, number, "mitigated", "alice", "re-deployed")
    repo.record_verification(store, number, "camp2", True, "hash matches")
    closed = repo.update_status(store, number, "closed", "bob", "done")
    assert closed is not None
    assert closed["closed_at"]
    assert repo.update_status(store, 999, "closed", "bob") is None
    kinds = [e["kind"] for e in repo.get_incident(store, number)["timeline"]]
    assert kinds[:2] == ["opened", "alert"]
    assert kinds.count("verification") == 2
    assert kinds[-1] == "status"


def test_post_incident_report_html_and_markdown(store: Store) -> None:
    alert_hub, _clock = hub(store)
    now = datetime.fromtimestamp(T0 + 60, UTC)
    store.add_events(
        [GuardEvent("auth", "intrusion", Action.BLOCK, "guessing keys", "ip:1", {}, T0 + 5)],
        "credit",
    )
    with store.transaction("observe", write=True) as session:
        for i, (pred, label) in enumerate([(1, 1), (0, 1), (1, None)]):
            session.add(
                ObservationRow(
                    id=f"o{i}",
                    target="credit",
                    time=datetime.fromtimestamp(T0 + 10, UTC),
                    features=[0.0],
                    prediction=pred,
                    score=0.5,
                    label=label,
                )
            )
    alert_hub.process([ev("intrusion")], "credit")
    alert_hub.flush()
    (incident,) = repo.list_incidents(store)
    repo.record_mitigation(store, incident["id"], "alice", "activated policy v2 <strict>")
    html = incident_report(store, incident["id"], "html", now=now)
    md = incident_report(store, incident["id"], "md", now=now)
    assert html is not None
    assert md is not None
    assert "AML.T0015" in html
    assert "Evade ML Model" in md
    assert "activated policy v2 &lt;strict&gt;" in html  # escaped
    assert "- requests: 4 (3 predictions served, 1 blocked)" in md
    assert "1 of 2 labelled ones were wrong" in md
    assert "no verifying campaign yet" in md
    assert incident_report(store, 12345, "md") is None
