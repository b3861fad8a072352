"""/api/v1/campaigns and /api/v1/findings: campaigns stored by the engine's Store calls
read back through the API, with filters, id prefixes and one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime

from service_harness import Harness

from redwatch.engine.diff import diff_findings
from redwatch.findings import Category, Finding, Severity
from redwatch.results import CampaignResult, ProbeRun
from redwatch.store import Store


def finding(key: str, severity: Severity, target: str) -> Finding:
    """An evasion finding whose fingerprint depends on `key`."""
    return Finding(
        probe="evasion.pgd",
        category=Category.EVASION,
        severity=severity,
        title=f"evasion at {key}",
        description="small perturbations flip the decision",
        metrics={"success_rate": 0.5},
        target=target,
        key=key,
    )


def run_campaign(store: Store, target: str, findings: list[Finding]) -> str:
    """Start, diff and complete a campaign the way the engine does; its id."""
    campaign_id = store.start_campaign(target, "sklearn", {"probes": ["evasion.pgd"]})
    status, _ = diff_findings(findings, store.history(target))
    now = datetime.now(UTC).isoformat()
    store.complete_campaign(
        CampaignResult(
            id=campaign_id,
            target=target,
            target_kind="sklearn",
            started_at=now,
            finished_at=now,
            status="completed",
            probes=[ProbeRun(probe="evasion.pgd", status="ok", seconds=1.0, queries=10)],
            findings=findings,
            diff=status,
        )
    )
    return campaign_id


def test_campaigns_listed_and_read(service: Harness) -> None:
    store = service.state.store
    first = run_campaign(store, "credit", [finding("a", Severity.HIGH, "credit")])
    second = run_campaign(store, "credit", [finding("a", Severity.HIGH, "credit")])
    other = run_campaign(store, "fraud", [finding("b", Severity.LOW, "fraud")])
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
    run_campaign(store, "credit", [finding("a", Severity.HIGH, "credit")])
    run_campaign(
        store,
        "credit",
        [finding("a", Severity.HIGH, "credit"), finding("c", Severity.MEDIUM, "credit")],
    )
    run_campaign(store, "fraud", [finding("b", Severity.LOW, "fraud")])
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
