"""The feedback loop on a real XGBoost model: mitigating a finding stores and activates a
policy and queues its verify job; the verifying campaign (run here with run_scan into the
job's report folder) is judged by replaying its recorded adversarial inputs through the
policy, and the verdict is recorded; an incident is marked mitigated, then reopened or
closed by its verification; hardening registers a new model version in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from service_harness import Harness
from test_service_guard_api import _scan, files, register  # noqa: F401 (fixture)

from redwatch.incidents.repo import get_incident
from redwatch.service import feedback, verification
from redwatch.store.models import utcnow
from redwatch.store.service_models import IncidentRow, JobRow

API = "/api/v1"


class QueueStub:
    """Stands in for the worker: keeps the verify jobs the feedback loop queues."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def enqueue(self, target: str, reason: str, **kw: Any) -> str:
        self.jobs.append({"id": f"job-{len(self.jobs) + 1}", "target": target, "reason": reason})
        self.jobs[-1].update(kw)
        return str(self.jobs[-1]["id"])


@pytest.fixture
def loop(service_sqlite: Harness, files: dict[str, Path], tmp_path: Path) -> Any:  # noqa: F811
    """The service with a registered target, one campaign's findings and a stub queue."""
    register(service_sqlite, files)
    findings = _scan(service_sqlite, files, tmp_path / "first")
    stub, real = QueueStub(), service_sqlite.state.worker
    service_sqlite.state.worker = stub  # type: ignore[assignment]
    yield service_sqlite, findings, stub
    service_sqlite.state.worker = real


def _verify(service: Harness, files: dict[str, Path], job: dict[str, Any]) -> None:  # noqa: F811
    """Run the verify job's campaign where the worker would, then hand it to after_job."""
    _scan(service, files, service.state.settings.reports_dir / job["id"])
    campaign = service.state.store.list_campaigns(target="bc", limit=1)[0]
    done = {**job, "status": "completed", "campaign_id": campaign["id"]}
    verification.after_job(service.state, done, service.state.store.get_campaign(campaign["id"]))


def test_mitigating_a_finding_applies_a_policy_and_verifies_it(
    loop: Any,
    files: dict[str, Path],  # noqa: F811
) -> None:
    service, findings, stub = loop
    fingerprint = findings[0].fingerprint
    answer = service.post(f"{API}/findings/{fingerprint}/mitigate", json={"action": "guard_policy"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["policy"]["active"]
    assert body["job_id"] == "job-1"
    assert fingerprint in body["answered"]
    [job] = stub.jobs
    assert job["reason"] == "verify"
    assert job["verifies"] == f"finding:{fingerprint}"
    assert job["options"]["policy_id"] == body["policy"]["id"]
    _verify(service, files, job)
    audit = service.get(f"{API}/audit", role="admin").json()
    verdicts = [e for e in audit if e["action"] == "mitigations.verify"]
    assert len(verdicts) == 1
    detail = verdicts[0]["detail"]
    figures = detail["figures"]
    print(f"replayed {figures['inputs']} inputs: blocked-or-corrected rate {figures['rate']}")
    assert figures["inputs"] == figures["blocked"] + figures["restored"] + figures["evading"]
    assert detail["passed"] == (figures["rate"] >= verification.PASS_RATE)
    kind = "mitigation_verified" if detail["passed"] else "mitigation_failed"
    assert service.state.store.list_events(kind=kind, source="bc")
    assert "findings.mitigate" in [e["action"] for e in audit]


def _incident(service: Harness, status: str = "open") -> int:
    with service.state.store.transaction("seed an incident", write=True) as session:
        row = IncidentRow(
            target="bc",
            cause="finding:evasion",
            status=status,
            severity=3,
            title="evasion findings on bc",
            opened_at=utcnow(),
            updated_at=utcnow(),
            data={},
        )
        session.add(row)
        session.flush()
        return int(row.id)


def test_an_incident_is_mitigated_then_reopened_or_closed(loop: Any) -> None:
    service, _, stub = loop
    incident = _incident(service)
    answer = service.post(f"{API}/incidents/{incident}/mitigate", json={"action": "guard_policy"})
    assert answer.status_code == 200, answer.text
    doc = get_incident(service.state.store, incident)
    assert doc is not None
    assert doc["status"] == "mitigated"
    assert "mitigation" in [e["kind"] for e in doc["timeline"]]
    job = {**stub.jobs[0], "status": "failed", "error": "boom", "campaign_id": None}
    verification.after_job(service.state, job, None)  # the verifying campaign failed
    reopened = get_incident(service.state.store, incident)
    assert reopened is not None
    assert reopened["status"] == "open"
    service.post(f"{API}/incidents/{incident}/mitigate", json={"action": "guard_policy"})
    verdict = verification.Verdict(True, "all recorded inputs blocked", {"rate": 1.0})
    verification.record_verdict(service.state, stub.jobs[1], None, verdict)
    closed = get_incident(service.state.store, incident)
    assert closed is not None
    assert closed["status"] == "closed"
    refused = service.post(f"{API}/incidents/{incident}/mitigate", json={"action": "harden"})
    assert refused.status_code == 409
    assert "closed" in refused.json()["error"]
    assert (
        service.post(f"{API}/incidents/999/mitigate", json={"action": "harden"}).status_code == 404
    )


def test_a_mitigation_in_progress_refuses_another(loop: Any) -> None:
    service, findings, _ = loop
    fingerprint = findings[0].fingerprint
    with service.state.store.transaction("seed a running verify job", write=True) as session:
        session.add(
            JobRow(
                id="running1",
                target="bc",
                reason="verify",
                status="running",
                verifies=f"finding:{fingerprint}",
                options={},
            )
        )
    again = service.post(f"{API}/findings/{fingerprint}/mitigate", json={"action": "guard_policy"})
    assert again.status_code == 409
    assert "in progress" in again.json()["error"]
    missing = service.post(f"{API}/findings/nope/mitigate", json={"action": "guard_policy"})
    assert missing.status_code == 404
    bad = service.post(f"{API}/findings/{fingerprint}/mitigate", json={"action": "pray"})
    assert bad.status_code == 422


@pytest.mark.slow
def test_hardening_registers_a_model_version_in_the_background(loop: Any) -> None:
    service, findings, stub = loop
    fingerprint = findings[0].fingerprint
    body = {"action": "harden", "budget_seconds": 10, "rounds": 1}
    started = service.post(f"{API}/findings/{fingerprint}/mitigate", json=body)
    assert started.status_code == 202, started.text
    run = feedback.background(service.state).wait(started.json()["job_id"], 240)
    assert run["status"] == "completed", run
    versions = service.get(f"{API}/targets/bc/models").json()
    assert versions[0]["source"] == "harden"
    [job] = stub.jobs
    assert job["options"]["mitigation"] == "harden"
    assert job["options"]["fingerprints"] == [fingerprint]
    verdict = verification.judge_harden(job["options"], [])
    assert verdict.passed  # a campaign without the finding: it is gone
