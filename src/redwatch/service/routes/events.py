"""/api/v1/events: external guards post batches of events (analyst), anyone with a key
reads them back (viewer). A batch is stored whole or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from redwatch.exceptions import DataError, first_line
from redwatch.service.audit_log import audited
from redwatch.service.auth import Analyst, Viewer
from redwatch.service.events_hub import EventHub
from redwatch.service.state import ServiceState, State

router = APIRouter(tags=["events"])

MAX_BATCH = 5_000


class EventBatch(BaseModel):
    """A batch of events (GuardEvent.to_dict() mappings) from one source."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=255)
    events: list[dict[str, Any]]


def hub(state: ServiceState) -> EventHub:
    """The running event hub; 503 while the service is still starting."""
    if state.events is None:
        raise HTTPException(503, "the event hub is not running")
    return state.events


@router.post("/events", status_code=201)
def post_events(body: EventBatch, who: Analyst, state: State) -> dict[str, Any]:
    """Store a batch (ids stored already are skipped); 422 naming the first malformed event."""
    if len(body.events) > MAX_BATCH:
        raise HTTPException(413, f"at most {MAX_BATCH} events per batch, got {len(body.events)}")
    try:
        new = hub(state).publish(body.events, body.source)
    except DataError as exc:
        raise HTTPException(422, first_line(exc)) from None
    received = len(body.events)
    audited(state.store, who, "events.post", body.source, {"received": received, "new": new})
    return {"source": body.source, "received": received, "stored": new}


@router.get("/events")
def list_events(
    who: Viewer,
    state: State,
    source: str | None = None,
    kind: str | None = None,
    stage: str | None = None,
    client: str | None = None,
    since: Annotated[datetime | None, Query(description="ISO time (UTC if no zone)")] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Stored events, newest first, filtered by exact source, kind, stage, client and time."""
    return state.store.list_events(
        kind=kind, stage=stage, client=client, source=source, since=since, limit=limit
    )
