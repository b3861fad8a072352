"""Campaigns stored the way the engine stores them, for tests of the store and of the
service API: evasion findings with a chosen fingerprint, completed results, and a whole
start / diff / complete round trip."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redwatch.engine.diff import diff_findings
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.results import CampaignResult, ProbeRun
from redwatch.store import Store


def make_finding(
    key: str, severity: Severity = Severity.HIGH, target: str = "credit", **metrics: Any
) -> Finding:
    """A finding of the evasion probe whose fingerprint is decided by `key`."""
    return Finding(
        probe="evasion.pgd",
        category=Category.EVASION,
        severity=severity,
        title=f"evasion at {key}",
        description="small perturbations flip the decision",
        metrics={"success_rate": 0.75, **metrics},
        evidence=[Evidence(kind="examples", description="adversarial rows", data={"n": 3})],
        mitigations=[Mitigation(kind="guard", title="clip inputs", params={"eps": 0.1})],
        references=("AML.T0015",),
        target=target,
        key=key,
    )


def make_result(
    campaign_id: str, findings: list[Finding], target: str = "credit", **extra: Any
) -> CampaignResult:
    """A completed campaign result around `findings`."""
    now = datetime.now(UTC).isoformat()
    return CampaignResult(
        id=campaign_id,
        target=target,
        target_kind="sklearn",
        started_at=now,
        finished_at=now,
        status="completed",
        probes=[ProbeRun(probe="evasion.pgd", status="ok", seconds=1.5, queries=200)],
        findings=findings,
        **extra,
    )


def run_campaign(store: Store, findings: list[Finding], target: str = "credit") -> str:
    """What the engine does: start, diff against history, complete. Returns the id."""
    campaign_id = store.start_campaign(target, "sklearn", {"probes": ["evasion.pgd"]})
    status, fixed = diff_findings(findings, store.history(target))
    result = make_result(campaign_id, findings, target=target, diff=status)
    result.fixed = [{"fingerprint": fp} for fp in fixed]
    store.complete_campaign(result)
    return campaign_id
