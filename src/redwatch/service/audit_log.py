"""The audit log: every change made through the service (who, what, on which object, when),
written in the same transaction as the change itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redwatch.service.keys import Principal
from redwatch.store.models import utcnow
from redwatch.store.repository import Store
from redwatch.store.service_models import AuditRow
from redwatch.store.views import iso


def record(
    session: Session, who: Principal, action: str, obj: str, detail: dict[str, Any] | None = None
) -> None:
    """Add one audit entry to the caller's transaction (it lands with the change or not at all)."""
    session.add(
        AuditRow(
            time=utcnow(),
            actor=who.actor,
            role=who.role,
            action=action,
            object=obj[:255],
            detail=detail or {},
        )
    )


def audited(
    store: Store, who: Principal, action: str, obj: str, detail: dict[str, Any] | None = None
) -> None:
    """Record an audit entry on its own (for changes made outside a store transaction)."""
    with store.transaction(f"record {action} in the audit log", write=True) as session:
        record(session, who, action, obj, detail)


def list_audit(store: Store, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
    """Newest audit entries first, optionally of one action."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditRow.action == action)
    with store.transaction("read the audit log") as session:
        return [
            {
                "id": row.id,
                "time": iso(row.time),
                "actor": row.actor,
                "role": row.role,
                "action": row.action,
                "object": row.object,
                "detail": row.detail,
            }
            for row in session.scalars(query).all()
        ]
