"""/api/v1/incidents: alerts grouped by target and cause; status changes along the
lifecycle (open -> mitigated -> closed, and reopening) with the audit log; the
post-incident report as HTML or Markdown."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from redwatch.incidents import repo
from redwatch.incidents.report import incident_report
from redwatch.service.audit_log import record
from redwatch.service.auth import Analyst, Viewer
from redwatch.service.state import State
from redwatch.store.service_models import INCIDENT_STATUSES

router = APIRouter(tags=["incidents"])


class IncidentChange(BaseModel):
    """A status change and/or a note for the timeline."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["open", "mitigated", "closed"] | None = None
    note: str | None = Field(default=None, min_length=1, max_length=4000)


@router.get("/incidents")
def list_incidents(
    who: Viewer,
    state: State,
    status: str | None = Query(None, pattern="^(" + "|".join(INCIDENT_STATUSES) + ")$"),
    target: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Incidents, most recently updated first."""
    return repo.list_incidents(state.store, status, target, limit)


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: int, who: Viewer, state: State) -> dict[str, Any]:
    """One incident with its timeline and alerts."""
    document = repo.get_incident(state.store, incident_id)
    if document is None:
        raise HTTPException(404, f"no incident {incident_id}")
    return document


@router.patch("/incidents/{incident_id}")
def change_incident(
    incident_id: int, body: IncidentChange, who: Analyst, state: State
) -> dict[str, Any]:
    """Change the status (409 when the lifecycle forbids it) and/or add a note."""
    if body.status is None and body.note is None:
        raise HTTPException(400, "send a status, a note, or both")
    try:
        with state.store.transaction(f"update incident {incident_id}", write=True) as session:
            document = repo.set_status(session, incident_id, body.status, who.actor, body.note)
            if document is not None:
                detail = {"status": body.status, "note": body.note}
                record(session, who, "incidents.update", str(incident_id), detail)
    except repo.TransitionError as exc:
        raise HTTPException(409, str(exc)) from None
    if document is None:
        raise HTTPException(404, f"no incident {incident_id}")
    return document


@router.get("/incidents/{incident_id}/report", response_model=None)
def report(
    incident_id: int,
    who: Viewer,
    state: State,
    format: str = Query("html", pattern="^(html|md)$"),
) -> Response:
    """The post-incident report (HTML, or Markdown with format=md)."""
    text = incident_report(state.store, incident_id, format)
    if text is None:
        raise HTTPException(404, f"no incident {incident_id}")
    if format == "html":
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
