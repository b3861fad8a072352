"""CampaignWorker: the service's campaign runner. Worker threads claim queued jobs and run
them through the engine against the service's store; a scheduler thread queues jobs when a
schedule is due or a model changed. Each finished campaign publishes its diff as events
(finding_new, finding_regressed, campaign_completed or campaign_failed)."""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import load_csv
from redwatch.engine.scheduler import HashCache, Schedule, is_due, model_changed
from redwatch.exceptions import RedwatchError, UsageError, first_line
from redwatch.guard.stage import Action, GuardEvent
from redwatch.probes.base import Budget, ProgressFn
from redwatch.results import CampaignResult
from redwatch.service import jobs
from redwatch.service.registrations import current_model, get_spec, load_spec_target
from redwatch.service.state import ServiceState
from redwatch.store.models import utcnow
from redwatch.store.repository import Store
from redwatch.store.service_models import ModelVersionRow, RegistrationRow

log = logging.getLogger("redwatch.service.worker")

SHUTDOWN_ERROR = "interrupted by a service shutdown"
CLOSE_TIMEOUT_S = 30.0
STAGE = "campaign"


class JobOptions(BaseModel):
    """Per-job overrides of the registered spec (a verifying re-scan may narrow probes)."""

    model_config = ConfigDict(extra="forbid")

    probes: list[str] | None = None
    budget_queries: int | None = Field(default=None, ge=1)
    budget_seconds: float | None = Field(default=None, gt=0, le=86_400)
    params: dict[str, dict[str, Any]] | None = None
    seed: int | None = Field(default=None, ge=0)


class VerifyOptions(JobOptions):
    """What a verifying re-scan also carries (set by the feedback loop, never by a trigger
    request): the mitigation it checks and the figures to compare against."""

    mitigation: Literal["guard_policy", "harden"] | None = None
    policy_id: int | None = None
    fingerprints: list[str] | None = None
    baseline: dict[str, float] | None = None


class _Stopped(BaseException):
    """The service is closing in the middle of a campaign (not an Exception, so that the
    runner's per-probe error handling lets it through and marks the campaign failed)."""


class _JobStore(Store):
    """The service's store (same engine) that links a job to the campaign it starts, so
    that recovery after a crash can mark exactly that campaign failed."""

    def __init__(self, store: Store, job_id: str) -> None:
        super().__init__(store.engine)
        self.job_id = job_id

    def start_campaign(self, target: str, kind: str, config: dict[str, Any]) -> str:
        """Start the campaign, then record its id on the job."""
        campaign_id = super().start_campaign(target, kind, config)
        jobs.set_campaign(self, self.job_id, campaign_id)
        return campaign_id


class CampaignWorker:
    """Runs queued campaigns on `settings.workers` threads and queues scheduled ones."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.close_timeout_s = CLOSE_TIMEOUT_S
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._hashes = HashCache()
        self._enqueue_lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The service's store."""
        return self.state.store

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Recover jobs a previous process left running, then start the threads."""
        if not self.state.settings.run_worker:
            return
        for old, new in jobs.recover(self.store):
            log.warning("job %s was interrupted by a restart; re-queued as %s", old, new)
        prefix = f"{socket.gethostname()}:{os.getpid()}"
        for i in range(self.state.settings.workers):
            self._spawn(f"redwatch-worker-{i}", self._work, f"{prefix}:{i}")
        self._spawn("redwatch-scheduler", self._schedule)

    def _spawn(self, name: str, loop: Any, *args: Any) -> None:
        """Start one daemon thread running `loop`."""
        thread = threading.Thread(target=loop, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        """Stop claiming; a running campaign stops at its next probe boundary or progress
        report (its job is interrupted and re-queued). A job still running after the
        timeout stays `running` for the next start's recovery."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + self.close_timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", thread.name, self.close_timeout_s)
        self._threads = [t for t in self._threads if t.is_alive()]

    # -- queue ---------------------------------------------------------------------------

    def enqueue(
        self,
        target: str,
        reason: str,
        *,
        verifies: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> str:
        """Queue a campaign on `target`; the id of the new job, or of the active job it
        would duplicate. UsageError for bad options."""
        checked = VerifyOptions.model_validate(options or {}).model_dump(exclude_none=True)
        with self._enqueue_lock:
            job = jobs.enqueue(self.store, target, reason, verifies=verifies, options=checked)
        self._wake.set()
        return str(job["id"])

    def wait(self, job_id: str, timeout_s: float) -> dict[str, Any]:
        """The job's document once it is finished (tests); TimeoutError naming its status."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = jobs.get_job(self.store, job_id)
            if job is None:
                raise UsageError(f"no job {job_id}")
            if job["status"] in jobs.FINAL:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s:g} s")
            time.sleep(0.05)

    # -- scheduler -----------------------------------------------------------------------

    def _schedule(self) -> None:
        """Scheduler thread: tick every settings.tick_s until closed."""
        while not self._stop.wait(self.state.settings.tick_s):
            try:
                self.tick()
            except Exception:  # a bad tick must not end the scheduler
                log.exception("scheduler tick failed")

    def tick(self) -> list[str]:
        """Queue `schedule` jobs whose time has come and `model_change` jobs for models
        whose artifact hash or registered version changed; the new job ids."""
        hashes = self._current_hashes()
        now = utcnow()
        created: list[str] = []
        with self.store.transaction("run the scheduler", write=True) as session:
            rows = session.scalars(select(RegistrationRow).where(RegistrationRow.paused.is_(False)))
            for row in rows:
                scheduled = row.interval_s is not None or row.cron is not None
                if scheduled and is_due(row.next_run_at, now):
                    created += _queued(session, row.name, "schedule")
                    row.next_run_at = Schedule(row.interval_s, row.cron).next_due(now)
                sha = hashes.get(row.name)
                if sha is not None and model_changed(row.model_hash, sha):
                    if not jobs.has_active(session, row.name, ("verify",)):
                        created += _queued(session, row.name, "model_change")
                    row.model_hash = sha
        if created:
            self._wake.set()
        return created

    def _current_hashes(self) -> dict[str, str]:
        """SHA-256 of each active registration's newest model file (unreadable ones are
        left out and logged; the integrity monitor reports them)."""
        with self.store.transaction("read the current model files") as session:
            newest = session.execute(
                select(ModelVersionRow.target, ModelVersionRow.path)
                .join(RegistrationRow, RegistrationRow.name == ModelVersionRow.target)
                .where(RegistrationRow.paused.is_(False))
                .order_by(ModelVersionRow.id)
            ).all()
        paths = {target: path for target, path in newest}
        out = {}
        for target, path in paths.items():
            try:
                out[target] = self._hashes.sha256(Path(path))
            except OSError as exc:
                log.warning("cannot read the model of %s: %s", target, exc)
        return out

    # -- running jobs --------------------------------------------------------------------

    def _work(self, worker_id: str) -> None:
        """Worker thread: claim and run jobs until closed."""
        while not self._stop.is_set():
            try:
                job = jobs.claim(self.store, worker_id)
            except RedwatchError as exc:
                log.warning("cannot claim a job: %s", exc)
                job = None
            if job is None:
                self._wake.wait(self.state.settings.tick_s)
                self._wake.clear()
                continue
            try:
                self.run_job(job)
            except Exception:  # the store went away; the job stays for recovery
                log.exception("job %s could not be recorded", job["id"])

    def run_job(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """Run one claimed job to its end; its events are published before the job is
        marked finished, so whoever sees a finished job also sees its events."""
        target = str(job["target"])
        try:
            result = self._campaign(job)
        except _Stopped:
            jobs.interrupt(self.store, job["id"], SHUTDOWN_ERROR)
            return jobs.get_job(self.store, job["id"])
        except Exception as exc:  # every failure ends the job with one line
            error = first_line(exc) if isinstance(exc, RedwatchError) else _describe(exc)
            self._publish(target, [_event("campaign_failed", error, job_id=job["id"], error=error)])
            done = jobs.finish(self.store, job["id"], "failed", error=error)
            self._after(done, None)
            return done
        self._publish(target, diff_events(result, job))
        done = jobs.finish(self.store, job["id"], "completed", campaign_id=result.id)
        self._after(done, self.store.get_campaign(result.id))
        return done

    def _campaign(self, job: dict[str, Any]) -> CampaignResult:
        """Load the current model and the data, then run the campaign of the spec."""
        name = str(job["target"])
        spec = get_spec(self.store, name)
        if spec is None:
            raise UsageError(f"target {name!r} is not registered")
        extra = VerifyOptions.model_validate(job.get("options") or {})
        model = current_model(self.store, name)
        target = load_spec_target(spec, model)
        data = load_csv(spec.data, spec.label)
        options = ScanOptions(
            out_dir=self.state.settings.reports_dir / str(job["id"]),
            probes=extra.probes or spec.probes,
            budget=Budget(
                extra.budget_queries or spec.budget_queries,
                extra.budget_seconds or spec.budget_seconds,
            ),
            formats=("json", "html"),
            seed=spec.seed if extra.seed is None else extra.seed,
            params=extra.params if extra.params is not None else spec.params,
            image_shape=spec.shape(),
            model=model,
            executor=self.state.settings.executor,
            ray_address=self.state.settings.ray_address,
        )
        store = _JobStore(self.store, str(job["id"]))
        return run_scan(target, target.kind, data, store, options, progress=self._progress)

    @contextmanager
    def _progress(self, probe: str) -> Iterator[ProgressFn]:
        """Per-probe progress hook: the point where a closing service stops a campaign."""
        self._check_stop()

        def report(fraction: float, message: str) -> None:
            self._check_stop()

        yield report

    def _check_stop(self) -> None:
        """Raise _Stopped once close() was called."""
        if self._stop.is_set():
            raise _Stopped(SHUTDOWN_ERROR)

    def _publish(self, target: str, events: list[GuardEvent]) -> None:
        """Hand events to the event hub (straight to the store when there is none)."""
        try:
            self.state.publish(events, target)
        except Exception:  # the job is recorded; losing its events must not undo that
            log.exception("cannot publish %d campaign event(s) for %s", len(events), target)

    def _after(self, job: dict[str, Any] | None, campaign: dict[str, Any] | None) -> None:
        """Let the feedback loop (redwatch.service.verification, when installed) see the job."""
        if job is None:
            return
        try:
            verification = importlib.import_module("redwatch.service.verification")
        except ImportError:
            return
        try:
            verification.after_job(self.state, job, campaign)
        except Exception:
            log.exception("feedback after job %s failed", job["id"])


def _queued(session: Any, target: str, reason: str) -> list[str]:
    """Queue a job inside the scheduler's transaction; its id when it is new."""
    row, new = jobs.enqueue_in(session, target, reason)
    return [row.id] if new else []


def _describe(exc: BaseException) -> str:
    """One line for an unexpected error."""
    return f"{type(exc).__name__}: {first_line(exc)}"


def _event(kind: str, detail: str, **data: Any) -> GuardEvent:
    """A campaign-stage event (observations, so ALLOW)."""
    return GuardEvent(STAGE, kind, Action.ALLOW, detail, client="worker", data=data)


def diff_events(result: CampaignResult, job: dict[str, Any]) -> list[GuardEvent]:
    """finding_new / finding_regressed for each such finding, then campaign_completed."""
    events = []
    counts = {"new": 0, "regressed": 0}
    for finding in result.findings:
        status = result.diff.get(finding.fingerprint, "new")
        if status not in counts:
            continue
        counts[status] += 1
        events.append(
            _event(
                f"finding_{status}",
                finding.title,
                campaign_id=result.id,
                job_id=job["id"],
                fingerprint=finding.fingerprint,
                probe=finding.probe,
                category=str(finding.category),
                severity=finding.severity.label,
                title=finding.title,
            )
        )
    summary = (
        f"campaign {result.id[:8]} on {result.target}: {counts['new']} new, "
        f"{counts['regressed']} regressed, {len(result.fixed)} fixed"
    )
    events.append(
        _event(
            "campaign_completed",
            summary,
            campaign_id=result.id,
            job_id=job["id"],
            new=counts["new"],
            regressed=counts["regressed"],
            fixed=len(result.fixed),
            reason=job["reason"],
            verifies=job.get("verifies"),
        )
    )
    return events


def build_worker(state: ServiceState) -> CampaignWorker:
    """The worker part of the service (app.PARTS)."""
    return CampaignWorker(state)
