"""/api/v1/alerts: the alerts the service raised, newest first, with each sink's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from redwatch.findings import Severity
from redwatch.incidents.records import list_alerts
from redwatch.service.auth import Viewer
from redwatch.service.state import State

router = APIRouter(tags=["alerts"])


@router.get("/alerts")
def alerts(
    who: Viewer,
    state: State,
    target: str | None = None,
    severity: str | None = Query(None, description="At least this severity."),
    since: Annotated[datetime | None, Query(description="At or after this ISO time.")] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Stored alerts of a target, at least a severity, since a time."""
    floor = Severity.parse(severity) if severity else None
    return list_alerts(state.store, target, floor, since, limit)
