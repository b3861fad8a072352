"""/api/v1/campaigns and /api/v1/findings: the stored campaign history and its findings,
read-only (viewer). Writing them is the worker's job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from redwatch.findings import Severity
from redwatch.service.auth import Viewer
from redwatch.service.state import State

router = APIRouter(tags=["campaigns"])

SeverityName = Literal["info", "low", "medium", "high", "critical"]
FindingStatus = Literal["new", "open", "regressed"]


@router.get("/campaigns")
def list_campaigns(
    who: Viewer,
    state: State,
    target: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Newest campaigns first, each with its finding counts per severity."""
    return state.store.list_campaigns(target=target, limit=limit)


@router.get("/campaigns/{campaign_id}")
def get_campaign(campaign_id: str, who: Viewer, state: State) -> dict[str, Any]:
    """A campaign's report with its status and error; a unique id prefix will do."""
    document = state.store.get_campaign(campaign_id)
    if document is None:
        raise HTTPException(404, f"no campaign {campaign_id}")
    return document


@router.get("/findings")
def list_findings(
    who: Viewer,
    state: State,
    target: str | None = None,
    severity: Annotated[SeverityName | None, Query(description="At least this severity.")] = None,
    status: FindingStatus | None = None,
    campaign: Annotated[str | None, Query(description="One campaign (id or prefix).")] = None,
    all_campaigns: bool = Query(False, alias="all", description="Every campaign, not the latest."),
) -> list[dict[str, Any]]:
    """Findings, most severe first; by default those of each target's latest campaign."""
    rows = state.store.list_findings(
        target=target,
        severity_at_least=Severity.parse(severity) if severity else None,
        campaign=campaign,
        latest_only=not all_campaigns,
    )
    return rows if status is None else [row for row in rows if row.get("status") == status]
