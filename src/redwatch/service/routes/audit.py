"""/api/v1/audit: the audit log of every change (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from redwatch.service.audit_log import list_audit
from redwatch.service.auth import Admin
from redwatch.service.state import State

router = APIRouter(tags=["audit"])


@router.get("/audit")
def audit_log(
    who: Admin,
    state: State,
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = None,
) -> list[dict[str, Any]]:
    """Newest changes first: who, what, on which object, when."""
    return list_audit(state.store, limit, action)
