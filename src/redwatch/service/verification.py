"""Verification of a mitigation (docs/feedback.md): when the worker finishes a `verify` job
it calls `after_job`, which judges the verifying campaign and records the verdict. A guard
policy passes when at least PASS_RATE of the campaign's recorded adversarial inputs are
blocked or brought back to their true label by it; a hardened model passes when every
finding that triggered it is gone or its success metric fell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redwatch.exceptions import RedwatchError, first_line
from redwatch.findings import Finding
from redwatch.guard.model import GuardedModel
from redwatch.guard.policy import parse_policy
from redwatch.guard.replay import ReplayReport, as_model, load_cases, replay, replay_policy
from redwatch.guard.stage import Action, GuardEvent
from redwatch.incidents.repo import record_verification, set_status
from redwatch.service.audit_log import audited
from redwatch.service.guards import load_registered
from redwatch.service.keys import SYSTEM
from redwatch.service.policies import get_policy
from redwatch.store.service_models import IncidentRow

if TYPE_CHECKING:
    from redwatch.service.state import ServiceState

MITIGATIONS = ("guard_policy", "harden")
PASS_RATE = 0.9


def after_job(
    state: ServiceState, job_doc: Mapping[str, Any], campaign_doc: Mapping[str, Any] | None
) -> None:
    """Judge a finished `verify` job of a mitigation and record the verdict: the incident
    is closed when it passed and reopened when not; an audit entry and a
    `mitigation_verified` / `mitigation_failed` event either way. Other jobs: nothing."""
    options = job_doc.get("options") or {}
    if job_doc.get("reason") != "verify" or options.get("mitigation") not in MITIGATIONS:
        return
    verdict = judge(state, job_doc, campaign_doc)
    record_verdict(state, job_doc, campaign_doc, verdict)


def record_verdict(
    state: ServiceState,
    job_doc: Mapping[str, Any],
    campaign_doc: Mapping[str, Any] | None,
    verdict: Verdict,
) -> None:
    """Store the verdict: incident verification, audit entry, event."""
    verifies = str(job_doc.get("verifies") or "")
    target = str(job_doc.get("target") or "")
    campaign_id = job_doc.get("campaign_id") or _campaign_id(campaign_doc)
    detail = {
        "verifies": verifies,
        "job_id": job_doc.get("id"),
        "campaign_id": campaign_id,
        "mitigation": (job_doc.get("options") or {}).get("mitigation"),
        **verdict.to_dict(),
    }
    if verifies.startswith("incident:"):
        _verify_incident(state, int(verifies.split(":", 1)[1]), campaign_id, verdict)
    audited(state.store, SYSTEM, "mitigations.verify", verifies, detail)
    kind = "mitigation_verified" if verdict.passed else "mitigation_failed"
    event = GuardEvent("feedback", kind, Action.ALLOW, verdict.reason, "redwatch", detail)
    state.publish([event], target)


def _campaign_id(campaign_doc: Mapping[str, Any] | None) -> str | None:
    """The id inside a campaign document, if any."""
    if campaign_doc is None:
        return None
    header = campaign_doc.get("campaign") or {}
    return str(header.get("id")) if header.get("id") else None


def _verify_incident(
    state: ServiceState, incident: int, campaign_id: str | None, verdict: Verdict
) -> None:
    """The verifying campaign on the incident's timeline; a pass closes a mitigated
    incident, a failure reopens it."""
    campaign = str(campaign_id or "none")
    record_verification(state.store, incident, campaign, verdict.passed, verdict.reason)
    if not verdict.passed:
        return
    with state.store.transaction(f"close incident {incident}", write=True) as session:
        row = session.get(IncidentRow, incident)
        if row is not None and row.status == "mitigated":
            set_status(session, incident, "closed", SYSTEM.actor, "verification passed")


@dataclass(frozen=True)
class Verdict:
    """Whether a mitigation held, why (one line), and the measured figures."""

    passed: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"passed": self.passed, "reason": self.reason, "figures": self.figures}


def judge(
    state: ServiceState, job_doc: Mapping[str, Any], campaign_doc: Mapping[str, Any] | None
) -> Verdict:
    """The verdict on a finished verify job (see the module docstring); a campaign that
    failed, or a replay that cannot run, fails the verification with the reason."""
    if campaign_doc is None or campaign_doc.get("status") != "completed":
        error = job_doc.get("error") or (campaign_doc or {}).get("error") or "no campaign"
        return Verdict(False, f"the verifying campaign did not complete: {error}")
    options = job_doc.get("options") or {}
    findings = [Finding.from_dict(f) for f in campaign_doc.get("findings", [])]
    try:
        if options.get("mitigation") == "guard_policy":
            return judge_policy(state, job_doc, findings)
        return judge_harden(options, findings)
    except RedwatchError as exc:
        return Verdict(False, f"verification could not run: {first_line(exc)}")


def judge_policy(
    state: ServiceState, job_doc: Mapping[str, Any], findings: Sequence[Finding]
) -> Verdict:
    """Replay the verify campaign's recorded adversarial inputs through the policy."""
    options = job_doc.get("options") or {}
    stored = get_policy(state.store, int(options.get("policy_id", 0)))
    if stored is None:
        return Verdict(False, f"guard policy {options.get('policy_id')} no longer exists")
    policy, left_out = replay_policy(parse_policy(stored["document"], f"policy {stored['id']}"))
    loaded = load_registered(state.store, str(job_doc["target"]))
    evidence = state.settings.reports_dir / str(job_doc["id"])
    cases, skipped = load_cases(findings, evidence, loaded.spec.n_features)
    if not cases:
        still = sorted(set(options.get("fingerprints", [])) & {f.fingerprint for f in findings})
        if still:
            return Verdict(False, f"no recorded inputs to replay; still open: {', '.join(still)}")
        return Verdict(True, "no recorded inputs to replay and the findings are gone")
    model = as_model(loaded.target, loaded.reference)
    guarded = GuardedModel(model, policy, loaded.spec, reference=loaded.reference).build()
    report = ReplayReport(replay(guarded, cases), skipped, left_out)
    totals = report.totals()
    rate = (totals["blocked"] + totals["restored"]) / max(totals["inputs"], 1)
    figures = {"rate": round(rate, 4), "threshold": PASS_RATE, **totals}
    figures["findings_replayed"] = len(report.results)
    words = f"{rate:.0%} of {totals['inputs']} recorded adversarial inputs blocked or corrected"
    return Verdict(rate >= PASS_RATE, f"{words} (needs {PASS_RATE:.0%})", figures)


def judge_harden(options: Mapping[str, Any], findings: Sequence[Finding]) -> Verdict:
    """Each triggering finding is gone from the verify campaign, or its success fell."""
    now = {f.fingerprint: success_of(f) for f in findings}
    baseline = dict(options.get("baseline") or {})
    rows = []
    for fp in options.get("fingerprints", []):
        before, after = baseline.get(fp), now.get(fp)
        fell = fp not in now or (before is not None and after is not None and after < before)
        rows.append({"fingerprint": fp, "before": before, "after": after, "held": fell})
    held = sum(r["held"] for r in rows)
    figures = {"findings": rows, "held": held, "total": len(rows)}
    text = f"{held} of {len(rows)} finding(s) gone or weaker on the hardened model"
    return Verdict(bool(rows) and held == len(rows), text, figures)


def success_of(finding: Finding) -> float:
    """How well the attack of a finding worked: its success rate when it records one,
    else its severity."""
    for key in ("success_rate", "success_rate_any_size"):
        value = finding.metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return float(int(finding.severity))
