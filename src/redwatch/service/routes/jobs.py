"""/api/v1/jobs: the campaign queue — queued, running and finished jobs (read only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from redwatch.service import jobs
from redwatch.service.auth import Viewer
from redwatch.service.state import State

router = APIRouter(tags=["jobs"])
STATUS = "^(queued|running|completed|failed|interrupted)$"
REASON = "^(manual|schedule|model_change|verify|requeue)$"


@router.get("/jobs")
def list_jobs(
    who: Viewer,
    state: State,
    target: str | None = None,
    status: str | None = Query(None, pattern=STATUS),
    reason: str | None = Query(None, pattern=REASON),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Newest jobs first, filtered by target, status and reason."""
    return jobs.list_jobs(state.store, target=target, status=status, reason=reason, limit=limit)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, who: Viewer, state: State) -> dict[str, Any]:
    """One job: status, campaign, error, and the job it re-queues."""
    found = jobs.get_job(state.store, job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id}")
    return found
