"""Alerts and incidents through the API: events become stored alerts grouped into incidents;
analysts move incidents along the lifecycle (409 for a forbidden change) with an audit
entry; viewers read alerts, incidents and the post-incident report in HTML and Markdown."""

from __future__ import annotations

from service_harness import Harness

from redwatch.guard.stage import Action, GuardEvent


def raise_alerts(service: Harness) -> None:
    """Drift and an evasion finding on credit, an intrusion on fraud; wait until stored."""
    hub = service.state.alerts
    assert hub is not None
    finding = {"category": "evasion", "severity": "high", "fingerprint": "fp1", "title": "PGD"}
    hub.process(
        [
            GuardEvent("monitor", "drift", Action.ALLOW, "psi 0.41 on age", "service"),
            GuardEvent("campaign", "finding_new", Action.ALLOW, "PGD flips", "worker", finding),
        ],
        "credit",
    )
    hub.process([GuardEvent("auth", "intrusion", Action.BLOCK, "key guessing", "ip:9")], "fraud")
    hub.flush()


def test_alerts_and_incidents_are_listed_and_filtered(service: Harness) -> None:
    raise_alerts(service)
    alerts = service.get("/api/v1/alerts").json()
    assert sorted(a["kind"] for a in alerts) == ["drift", "finding_new", "intrusion"]
    high = service.get("/api/v1/alerts", params={"severity": "high", "target": "credit"}).json()
    assert [a["kind"] for a in high] == ["finding_new"]
    assert service.get("/api/v1/alerts", params={"since": "2999-01-01T00:00:00Z"}).json() == []
    bad = service.get("/api/v1/alerts", params={"severity": "urgent"})
    assert bad.status_code == 400
    assert "unknown severity" in bad.json()["error"]
    incidents = service.get("/api/v1/incidents", params={"target": "credit"}).json()
    assert sorted(i["cause"] for i in incidents) == ["drift", "finding:evasion"]
    assert service.get("/api/v1/incidents", params={"status": "closed"}).json() == []
    assert service.get("/api/v1/incidents", params={"status": "gone"}).status_code == 422
    one = service.get(f"/api/v1/incidents/{incidents[0]['id']}").json()
    assert one["alerts"][0]["incident_id"] == one["id"]
    assert [e["kind"] for e in one["timeline"]] == ["opened", "alert"]
    missing = service.get("/api/v1/incidents/4242")
    assert (missing.status_code, missing.json()) == (404, {"error": "no incident 4242"})


def test_incident_lifecycle_is_enforced_and_audited(service: Harness) -> None:
    raise_alerts(service)
    (incident,) = service.get("/api/v1/incidents", params={"target": "fraud"}).json()
    path = f"/api/v1/incidents/{incident['id']}"
    patch = service.client.patch
    denied = patch(path, headers=service.headers("viewer"), json={"status": "mitigated"})
    assert denied.status_code == 403
    skip = patch(path, headers=service.headers("analyst"), json={"status": "closed"})
    assert skip.status_code == 409
    assert skip.json() == {"error": f"incident {incident['id']} is open; it cannot become closed"}
    done = patch(
        path, headers=service.headers("analyst"), json={"status": "mitigated", "note": "policy v2"}
    )
    assert done.status_code == 200
    assert done.json()["status"] == "mitigated"
    extra = patch(path, headers=service.headers("analyst"), json={"status": "open", "why": 1})
    assert extra.status_code == 422
    assert patch(path, headers=service.headers("analyst"), json={}).status_code == 400
    audit = service.get("/api/v1/audit", role="admin", params={"action": "incidents.update"})
    (entry,) = audit.json()
    assert entry["object"] == str(incident["id"])
    assert entry["detail"] == {"status": "mitigated", "note": "policy v2"}
    timeline = service.get(path).json()["timeline"]
    assert timeline[-1]["text"] == "status open -> mitigated: policy v2"


def test_post_incident_report_formats(service: Harness) -> None:
    raise_alerts(service)
    (incident,) = service.get("/api/v1/incidents", params={"target": "fraud"}).json()
    path = f"/api/v1/incidents/{incident['id']}/report"
    html = service.get(path)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "AML.T0015" in html.text
    md = service.get(path, params={"format": "md"})
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith(f"# Post-incident report: incident {incident['id']}")
    assert service.get(path, params={"format": "pdf"}).status_code == 422
    assert service.get("/api/v1/incidents/999/report").status_code == 404
