"""/api/v1 mitigations: `POST /findings/{fingerprint}/mitigate` and
`POST /incidents/{id}/mitigate` with {"action": "guard_policy" | "harden"}. A guard policy
is applied at once (200); hardening runs in the background (202 with its run id). Either
way a verifying campaign is queued; 409 while a mitigation of the same object is in
progress (docs/feedback.md)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from redwatch.service import feedback
from redwatch.service.auth import Analyst
from redwatch.service.keys import Principal
from redwatch.service.state import ServiceState, State

router = APIRouter(tags=["mitigations"])


class Mitigation(BaseModel):
    """Which mitigation to apply, and for `harden` the budget of its re-scans."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["guard_policy", "harden"]
    budget_queries: int = Field(default=2000, ge=100, le=100_000)
    budget_seconds: float = Field(default=30.0, gt=0, le=600)
    rounds: int = Field(default=2, ge=1, le=5)

    def budget(self) -> feedback.HardenBudget:
        """The hardening budget."""
        return feedback.HardenBudget(self.budget_queries, self.budget_seconds, self.rounds)


@router.post("/findings/{fingerprint}/mitigate")
def mitigate_finding(
    fingerprint: str, body: Mitigation, who: Analyst, state: State
) -> JSONResponse:
    """Mitigate one open finding (of its target's latest campaign)."""
    return _apply(state, who, body, {"finding": fingerprint})


@router.post("/incidents/{incident_id}/mitigate")
def mitigate_incident(
    incident_id: int, body: Mitigation, who: Analyst, state: State
) -> JSONResponse:
    """Mitigate an incident from its target's open findings; marks it mitigated."""
    return _apply(state, who, body, {"incident": incident_id})


def _apply(
    state: ServiceState, who: Principal, body: Mitigation, subject: dict[str, Any]
) -> JSONResponse:
    """Run feedback.mitigate; 404 / 409 for its refusals."""
    try:
        answer = feedback.mitigate(state, who, action=body.action, budget=body.budget(), **subject)
    except feedback.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except feedback.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(answer, 202 if body.action == "harden" else 200)
