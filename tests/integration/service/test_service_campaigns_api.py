"""/api/v1/campaigns and /api/v1/findings: campaigns stored by the engine's Store calls
read back through the API, with filters, id prefixes and one-line errors."""

from __future__ import annotations

from service_harness import Harness

from campaign_records import make_finding, run_campaign
from redwatch.findings import Severity


def test_campaigns_listed_and_read(service: Harness) -> None:
    store = service.state.store
    first = run_campaign(store, [make_finding("a", Severity.HIGH, "credit")], "credit")
    second = run_campaign(store, [make_finding("a", Severity.HIGH, "credit")], "credit")
    other = run_campaign(store, [make_finding("b", Severity.LOW, "fraud")], "fraud")
    listed = service.get("/api/v1/campaigns").json()
    assert {c["id"] for c in listed} == {first, second, other}
    credit = service.get("/api/v1/campaigns", params={"target": "credit"}).json()
    assert [c["id"] for c in credit] == [second, first]
    assert credit[0]["counts"]["high"] == 1
    assert len(service.get("/api/v1/campaigns", params={"limit": 1}).json()) == 1
    report = service.get(f"/api/v1/campaigns/{first[:10]}").json()
    assert report["status"] == "completed"
    assert report["campaign"]["id"] == first
    missing = service.get("/api/v1/campaigns/0123456789abcdef")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no campaign 0123456789abcdef"}
    assert service.get("/api/v1/campaigns", params={"limit": 0}).status_code == 422


def test_findings_filters(service: Harness) -> None:
    store = service.state.store
    run_campaign(store, [make_finding("a", Severity.HIGH, "credit")], "credit")
    both = [
        make_finding("a", Severity.HIGH, "credit"),
        make_finding("c", Severity.MEDIUM, "credit"),
    ]
    run_campaign(store, both, "credit")
    run_campaign(store, [make_finding("b", Severity.LOW, "fraud")], "fraud")
    latest = service.get("/api/v1/findings").json()
    assert sorted((f["target"], f["status"]) for f in latest) == [
        ("credit", "new"),
        ("credit", "open"),
        ("fraud", "new"),
    ]
    assert latest[0]["severity"] == "high"
    high = service.get("/api/v1/findings", params={"severity": "medium"}).json()
    assert sorted(f["title"] for f in high) == ["evasion at a", "evasion at c"]
    opened = service.get("/api/v1/findings", params={"status": "open"}).json()
    assert [f["title"] for f in opened] == ["evasion at a"]
    fraud = service.get("/api/v1/findings", params={"target": "fraud"}).json()
    assert [f["title"] for f in fraud] == ["evasion at b"]
    every = service.get("/api/v1/findings", params={"all": "true", "target": "credit"}).json()
    assert len(every) == 3
    bad = service.get("/api/v1/findings", params={"severity": "worst"})
    assert bad.status_code == 422
    assert "severity" in bad.json()["error"]
    assert service.client.get("/api/v1/findings").status_code == 401
