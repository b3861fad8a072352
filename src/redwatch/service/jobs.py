"""The campaign queue, kept in the jobs table so that it survives restarts: enqueue (one
active job per target, reason and verified object), claim (one conditional UPDATE, so two
workers never take the same job on SQLite or PostgreSQL), finish, fail, and recovery of
jobs that were running when the service stopped."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from redwatch.exceptions import UsageError
from redwatch.store.models import CampaignRow, utcnow
from redwatch.store.repository import Store
from redwatch.store.service_models import JOB_REASONS, JOB_STATUSES, JobRow
from redwatch.store.views import iso

ACTIVE = ("queued", "running")
FINAL = ("completed", "failed", "interrupted")
RESTART_ERROR = "interrupted by a service restart"
CLAIM_CANDIDATES = 5


def job_document(row: JobRow) -> dict[str, Any]:
    """A job as the API shows it."""
    return {
        "id": row.id,
        "target": row.target,
        "reason": row.reason,
        "status": row.status,
        "enqueued_at": iso(row.enqueued_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "worker": row.worker,
        "campaign_id": row.campaign_id,
        "requeued_from": row.requeued_from,
        "verifies": row.verifies,
        "error": row.error,
        "options": row.options,
    }


def _active(session: Session, target: str, reason: str, verifies: str | None) -> JobRow | None:
    """The queued or running job of this target, reason and verified object, if any."""
    query = select(JobRow).where(
        JobRow.target == target, JobRow.reason == reason, JobRow.status.in_(ACTIVE)
    )
    query = query.where(
        JobRow.verifies.is_(None) if verifies is None else JobRow.verifies == verifies
    )
    return session.scalars(query.limit(1)).first()


def _new_job(
    target: str,
    reason: str,
    verifies: str | None,
    options: dict[str, Any] | None,
    requeued_from: str | None = None,
) -> JobRow:
    """A queued job row stamped now."""
    return JobRow(
        id=uuid.uuid4().hex,
        target=target,
        reason=reason,
        status="queued",
        enqueued_at=utcnow(),
        verifies=verifies,
        requeued_from=requeued_from,
        options=dict(options or {}),
    )


def enqueue_in(
    session: Session,
    target: str,
    reason: str,
    *,
    verifies: str | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[JobRow, bool]:
    """Queue a job inside the caller's transaction; returns the job and whether it is new
    (an active job of the same target, reason and verified object is returned instead)."""
    if reason not in JOB_REASONS:
        raise UsageError(f"unknown job reason {reason!r}; reasons: {', '.join(JOB_REASONS)}")
    existing = _active(session, target, reason, verifies)
    if existing is not None:
        return existing, False
    row = _new_job(target, reason, verifies, options)
    session.add(row)
    session.flush()
    return row, True


def enqueue(
    store: Store,
    target: str,
    reason: str,
    *,
    verifies: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue a campaign job (or return the active one it would duplicate)."""
    with store.transaction(f"queue a {reason} campaign on {target!r}", write=True) as session:
        row, _ = enqueue_in(session, target, reason, verifies=verifies, options=options)
        return job_document(row)


def claim(store: Store, worker: str) -> dict[str, Any] | None:
    """Take the oldest queued job for `worker`, or None. The UPDATE only succeeds while the
    job is still queued, so of two workers racing for it exactly one gets rowcount 1."""
    with store.transaction("claim a queued job", write=True) as session:
        candidates = session.scalars(
            select(JobRow.id)
            .where(JobRow.status == "queued")
            .order_by(JobRow.enqueued_at, JobRow.id)
            .limit(CLAIM_CANDIDATES)
        ).all()
        for job_id in candidates:
            taken = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "queued")
                .values(status="running", worker=worker[:64], started_at=utcnow())
            )
            if getattr(taken, "rowcount", 0) == 1:
                row = session.get(JobRow, job_id, populate_existing=True)
                return job_document(row) if row is not None else None
    return None


def set_campaign(store: Store, job_id: str, campaign_id: str) -> None:
    """Record the campaign a running job started (recovery marks it failed if we die)."""
    with store.transaction(f"link job {job_id} to its campaign", write=True) as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(campaign_id=campaign_id))


def finish(
    store: Store, job_id: str, status: str, *, campaign_id: str | None = None, error: str = ""
) -> dict[str, Any] | None:
    """Close a running job as completed or failed (with a one-line error)."""
    if status not in JOB_STATUSES or status not in FINAL:
        raise ValueError(f"cannot finish a job as {status!r}")
    with store.transaction(f"finish job {job_id}", write=True) as session:
        row = session.get(JobRow, job_id)
        if row is None:
            return None
        row.status = status
        row.finished_at = utcnow()
        if campaign_id is not None:
            row.campaign_id = campaign_id
        if error:
            row.error = error[:2000]
        return job_document(row)


def interrupt_in(session: Session, row: JobRow, error: str) -> JobRow:
    """Mark a running job interrupted, fail its running campaign, and queue a `requeue`
    job carrying the same options; returns the new job."""
    now = utcnow()
    row.status = "interrupted"
    row.finished_at = now
    row.error = error
    if row.campaign_id is not None:
        campaign = session.get(CampaignRow, row.campaign_id)
        if campaign is not None and campaign.status == "running":
            campaign.status = "failed"
            campaign.error = error
            campaign.finished_at = now
    again = _new_job(row.target, "requeue", row.verifies, row.options, requeued_from=row.id)
    session.add(again)
    return again


def interrupt(store: Store, job_id: str, error: str) -> dict[str, Any] | None:
    """interrupt_in in its own transaction (a worker stopping in the middle of a job)."""
    with store.transaction(f"interrupt job {job_id}", write=True) as session:
        row = session.get(JobRow, job_id)
        if row is None or row.status != "running":
            return None
        again = interrupt_in(session, row, error)
        session.flush()
        return job_document(again)


def recover(store: Store) -> list[tuple[str, str]]:
    """At start-up: every `running` job died with the previous process. Mark each
    interrupted (its running campaign failed) and re-queue it; (old id, new id) pairs."""
    with store.transaction("recover interrupted jobs", write=True) as session:
        rows = session.scalars(select(JobRow).where(JobRow.status == "running")).all()
        pairs = [(row.id, interrupt_in(session, row, RESTART_ERROR).id) for row in rows]
        session.flush()
        return pairs


def get_job(store: Store, job_id: str) -> dict[str, Any] | None:
    """One job, or None."""
    with store.transaction(f"read job {job_id}") as session:
        row = session.get(JobRow, job_id)
        return job_document(row) if row is not None else None


def list_jobs(
    store: Store,
    *,
    target: str | None = None,
    status: str | None = None,
    reason: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest jobs first, filtered by target, status and reason."""
    query = select(JobRow)
    for column, value in (
        (JobRow.target, target),
        (JobRow.status, status),
        (JobRow.reason, reason),
    ):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(JobRow.enqueued_at.desc(), JobRow.id).limit(max(limit, 0))
    with store.transaction("list jobs") as session:
        return [job_document(row) for row in session.scalars(query)]


def has_active(session: Session, target: str, reasons: tuple[str, ...]) -> bool:
    """True when `target` has a queued or running job of one of `reasons`."""
    found = session.scalars(
        select(JobRow.id)
        .where(JobRow.target == target, JobRow.reason.in_(reasons), JobRow.status.in_(ACTIVE))
        .limit(1)
    ).first()
    return found is not None
