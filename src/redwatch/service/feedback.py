"""The feedback loop: a finding or an incident becomes a mitigation, and a verifying
campaign decides whether the mitigation holds.

`mitigate` applies one action: `guard_policy` (a virtual patch from the findings, stored
and activated at once) or `harden` (retrain the current model in a background thread,
register it as a new model version). Either way a `verify` job is queued; when the worker
finishes it, redwatch.service.verification judges the verifying campaign."""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from redwatch.exceptions import RedwatchError, first_line
from redwatch.findings import Finding
from redwatch.guard.patching import plan_patch
from redwatch.harden.pipeline import HardenRequest, run_harden
from redwatch.harden.rescan import default_probes
from redwatch.incidents.repo import add_entry, set_status
from redwatch.probes.base import Budget
from redwatch.service.audit_log import audited, record
from redwatch.service.guards import current_model_path, registration_spec
from redwatch.service.keys import Principal
from redwatch.service.policies import create_policy
from redwatch.service.verification import MITIGATIONS, success_of
from redwatch.store.repository import Store
from redwatch.store.service_models import IncidentRow, JobRow

if TYPE_CHECKING:
    from redwatch.service.state import ServiceState

log = logging.getLogger("redwatch.service.feedback")
BACKGROUND = "feedback.harden"


class Conflict(Exception):
    """The mitigation cannot start now (one is in progress, the incident is closed, there
    is nothing to answer); routes answer 409."""


class NotFound(LookupError):
    """No such finding or incident; routes answer 404."""


@dataclass(frozen=True)
class HardenBudget:
    """How much a `harden` mitigation may spend: queries and seconds of each re-scan
    campaign, and augmentation rounds."""

    queries: int = 2000
    seconds: float = 30.0
    rounds: int = 2


@dataclass(frozen=True)
class Subject:
    """What a mitigation answers: the target, the findings, the campaign they came from,
    the incident (if any) and the `verifies` key of the verify job."""

    target: str
    findings: list[Finding]
    campaign_id: str
    verifies: str
    incident_id: int | None = None

    def fingerprints(self) -> list[str]:
        """The fingerprints of the findings, in order."""
        return [f.fingerprint for f in self.findings]


def mitigate(
    state: ServiceState,
    who: Principal,
    *,
    finding: str | None = None,
    incident: int | None = None,
    action: str,
    budget: HardenBudget | None = None,
) -> dict[str, Any]:
    """Apply `action` to a finding (fingerprint) or an incident (id); the answer names the
    policy or the background hardening run and the verify job. NotFound, Conflict, or a
    RedwatchError for a policy that cannot be built."""
    if action not in MITIGATIONS:
        raise Conflict(f"unknown action {action!r}; choose {' or '.join(MITIGATIONS)}")
    subject = subject_of(state, finding, incident)
    if in_progress(state, subject.verifies):
        raise Conflict(f"a mitigation of {subject.verifies} is already in progress")
    if action == "guard_policy":
        return apply_policy(state, who, subject)
    return background(state).start(who, subject, budget or HardenBudget())


def subject_of(state: ServiceState, finding: str | None, incident: int | None) -> Subject:
    """The finding (in its target's latest campaign) or the incident's open findings."""
    store = state.store
    if finding is not None:
        docs = [d for d in store.list_findings(latest_only=True) if d["fingerprint"] == finding]
        if not docs:
            raise NotFound(f"no open finding {finding} in any target's latest campaign")
        doc = docs[0]
        target = str(doc.get("target") or "")
        return Subject(target, [Finding.from_dict(doc)], doc["campaign_id"], f"finding:{finding}")
    if incident is None:
        raise NotFound("name a finding or an incident")
    target, cause = _open_incident(state, incident)
    docs = store.list_findings(target=target, latest_only=True)
    if cause.startswith("finding:"):
        docs = [d for d in docs if d["category"] == cause.split(":", 1)[1]] or docs
    if not docs:
        raise Conflict(f"target {target} has no open findings to answer: run a campaign first")
    findings = [Finding.from_dict(d) for d in docs]
    return Subject(target, findings, docs[0]["campaign_id"], f"incident:{incident}", incident)


def _open_incident(state: ServiceState, incident: int) -> tuple[str, str]:
    """Target and cause of an incident that is not closed."""
    with state.store.transaction(f"read incident {incident}") as session:
        row = session.get(IncidentRow, incident)
        if row is None:
            raise NotFound(f"no incident {incident}")
        if row.status == "closed":
            raise Conflict(f"incident {incident} is closed; reopen it first")
        return row.target, row.cause


def in_progress(state: ServiceState, verifies: str) -> bool:
    """True while a hardening run or a queued/running verify job serves `verifies`."""
    runner = _runner(state)
    if runner is not None and runner.busy(verifies):
        return True
    with state.store.transaction(f"look for verify jobs of {verifies}") as session:
        job = session.scalar(
            select(JobRow.id)
            .where(JobRow.verifies == verifies, JobRow.status.in_(("queued", "running")))
            .limit(1)
        )
    return job is not None


def apply_policy(state: ServiceState, who: Principal, subject: Subject) -> dict[str, Any]:
    """Plan a virtual patch from the findings, store and activate it, rebuild the guard,
    queue the verify job and mark the incident mitigated."""
    plan = plan_patch(subject.findings, subject.campaign_id, subject.target)
    guards = state.guards
    check = None if guards is None else (lambda p: guards.check(subject.target, p))
    source = f"mitigation of {subject.verifies} (campaign {subject.campaign_id[:12]})"
    document = plan.document()
    policy = create_policy(state.store, who, subject.target, document, source, check, activate=True)
    state.refresh_guard(subject.target)
    options = {
        "mitigation": "guard_policy",
        "policy_id": policy["id"],
        "fingerprints": subject.fingerprints(),
    }
    job_id = enqueue_verify(state, subject, options)
    text = f"guard policy {policy['id']} (version {policy['version']}) activated"
    detail = {"action": "guard_policy", "policy_id": policy["id"], "job_id": job_id}
    record_mitigation(state, who, subject, text, detail)
    return {
        "action": "guard_policy",
        "target": subject.target,
        "verifies": subject.verifies,
        "policy": policy,
        "answered": sorted(plan.answered()),
        "unanswered": [{**ref.to_dict(), "why": why} for ref, why in plan.unanswered],
        "job_id": job_id,
    }


def enqueue_verify(state: ServiceState, subject: Subject, options: dict[str, Any]) -> str | None:
    """Queue the verifying campaign; None when the service runs no worker."""
    if state.worker is None:
        log.warning("no worker: the mitigation of %s is not verified", subject.verifies)
        return None
    try:
        return state.worker.enqueue(
            subject.target, "verify", verifies=subject.verifies, options=options
        )
    except (RedwatchError, ValueError):  # the mitigation stands; its verification is lost
        log.exception("could not queue the verify job of %s", subject.verifies)
        return None


def record_mitigation(
    state: ServiceState, who: Principal, subject: Subject, text: str, detail: dict[str, Any]
) -> None:
    """Audit the mitigation; for an incident also a `mitigation` timeline entry and status
    `mitigated`, in the same transaction."""
    kind = "incidents" if subject.incident_id is not None else "findings"
    obj = subject.verifies.split(":", 1)[1]
    with state.store.transaction(f"record the mitigation of {subject.verifies}", write=True) as s:
        record(s, who, f"{kind}.mitigate", obj, {"target": subject.target, **detail})
        incident = subject.incident_id
        if incident is None or s.get(IncidentRow, incident) is None:
            return
        add_entry(s, incident, "mitigation", who.actor, text, detail)
        if s.get(IncidentRow, incident).status == "open":  # type: ignore[union-attr]
            set_status(s, incident, "mitigated", who.actor)


# -- hardening in the background ---------------------------------------------------------


@dataclass
class HardenRun:
    """One background hardening: its id, subject and outcome (status, error, job id)."""

    id: str
    subject: Subject
    status: str = "running"
    result: dict[str, Any] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "status": self.status,
            "target": self.subject.target,
            "verifies": self.subject.verifies,
            **self.result,
        }


class HardenRunner:
    """Runs `harden` mitigations on threads (the request answers 202 at once); close()
    waits for them a bounded time."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._runs: dict[str, HardenRun] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, who: Principal, subject: Subject, budget: HardenBudget) -> dict[str, Any]:
        """Start hardening for `subject`; Conflict when one already runs for it."""
        run = HardenRun(f"hd-{uuid.uuid4().hex[:12]}", subject)
        with self._lock:
            if any(r.subject.verifies == subject.verifies for r in self._running()):
                raise Conflict(f"a mitigation of {subject.verifies} is already in progress")
            self._runs[run.id] = run
            thread = threading.Thread(
                target=self._run, args=(who, run, budget), name=run.id, daemon=True
            )
            self._threads.append(thread)
        thread.start()
        return {"action": "harden", **run.to_dict(), "job_id": run.id}

    def busy(self, verifies: str) -> bool:
        """True while a run for `verifies` is in progress."""
        with self._lock:
            return any(r.subject.verifies == verifies for r in self._running())

    def wait(self, run_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """The run's document once it finished (or as it stands after timeout_s)."""
        run = self._runs[run_id]
        run.done.wait(timeout_s)
        return run.to_dict()

    def close(self, timeout_s: float = 30.0) -> None:
        """Wait for the runs in progress (a run that outlasts the wait is abandoned)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)

    def _running(self) -> list[HardenRun]:
        """Runs not finished yet."""
        return [r for r in self._runs.values() if not r.done.is_set()]

    def _run(self, who: Principal, run: HardenRun, budget: HardenBudget) -> None:
        """The thread: harden, register, queue the verify job; failures are recorded."""
        try:
            run.result = harden_subject(self.state, who, run.id, run.subject, budget)
            run.status = "completed"
        except Exception as exc:
            log.exception("hardening %s failed", run.subject.verifies)
            run.status = "failed"
            run.result = {"error": first_line(exc)}
            _record_failure(self.state, who, run, exc)
        finally:
            run.done.set()


def _record_failure(state: ServiceState, who: Principal, run: HardenRun, exc: Exception) -> None:
    """Audit (and note on the incident) that a hardening run failed."""
    detail = {"action": "harden", "run": run.id, "error": first_line(exc)}
    try:
        audited(state.store, who, "mitigations.harden_failed", run.subject.verifies, detail)
    except RedwatchError:
        log.exception("could not record the failed hardening %s", run.id)


def background(state: ServiceState) -> HardenRunner:
    """The service's HardenRunner (created on first use, closed with the guards part)."""
    extra = state.extra if state.extra is not None else {}
    state.extra = extra
    runner = extra.get(BACKGROUND)
    if runner is None:
        runner = extra.setdefault(BACKGROUND, HardenRunner(state))
    assert isinstance(runner, HardenRunner)
    return runner


def _runner(state: ServiceState) -> HardenRunner | None:
    """The HardenRunner when one was created."""
    runner = (state.extra or {}).get(BACKGROUND)
    return runner if isinstance(runner, HardenRunner) else None


def close_background(state: ServiceState) -> None:
    """Wait (bounded) for background mitigations; called when the service stops."""
    runner = _runner(state)
    if runner is not None:
        runner.close()


def harden_subject(
    state: ServiceState, who: Principal, run_id: str, subject: Subject, budget: HardenBudget
) -> dict[str, Any]:
    """Harden the current model (re-scans go to a scratch store), register the result as
    a new model version, rebuild the guard, queue the verify job, record the mitigation."""
    spec = registration_spec(state.store, subject.target)
    model = current_model_path(state.store, subject.target, spec)
    folder = state.settings.models_dir / subject.target / run_id
    probes = sorted({f.probe for f in subject.findings if f.probe.startswith("evasion.")})
    request = HardenRequest(
        model=model,
        data=Path(spec["data"]),
        out=folder,
        label=spec.get("label"),
        rounds=budget.rounds,
        probes=probes or default_probes(),
        budget=Budget(budget.queries, budget.seconds),
        name=subject.target,
        trust_model=bool(spec.get("trust_model", False)),
        model_class=spec.get("model_class"),
        input_shape=tuple(spec["input_shape"]) if spec.get("input_shape") else None,
        formats=("json",),
    )
    with (
        tempfile.TemporaryDirectory(prefix="redwatch-harden-") as scratch,
        Store.open(f"sqlite:///{Path(scratch) / 'harden.db'}") as rescans,
    ):
        outcome = run_harden(request, rescans)
    version = register_model(state, who, subject.target, outcome.model_path, run_id)
    state.refresh_guard(subject.target)
    baseline = {f.fingerprint: success_of(f) for f in subject.findings}
    options = {"mitigation": "harden", "fingerprints": list(baseline), "baseline": baseline}
    job_id = enqueue_verify(state, subject, options)
    detail: dict[str, Any] = {"action": "harden", "run": run_id, "job_id": job_id}
    detail.update(model=str(outcome.model_path), version=version.get("version"))
    record_mitigation(
        state, who, subject, f"hardened model version {version.get('version')} registered", detail
    )
    return {"job_id": job_id, "model": str(outcome.model_path), "version": version}


def register_model(
    state: ServiceState, who: Principal, target: str, path: Path, run_id: str
) -> dict[str, Any]:
    """add_model_version of the registrations module (source `harden`)."""
    from redwatch.service.registrations import add_model_version

    return add_model_version(state.store, who, target, path, source="harden", data={"run": run_id})
