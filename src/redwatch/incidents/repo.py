"""Incidents in the store: list, read (with timeline and alerts), change status along the
allowed transitions, add timeline entries, record a mitigation and a verifying campaign.

Functions taking a Session work inside the caller's transaction (so a route can write its
audit entry with the change); the others open their own transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redwatch.exceptions import UsageError
from redwatch.findings import Severity
from redwatch.store.models import utcnow
from redwatch.store.repository import Store
from redwatch.store.service_models import (
    INCIDENT_STATUSES,
    AlertRow,
    IncidentEntryRow,
    IncidentRow,
)
from redwatch.store.views import iso

# Allowed status changes: forward through mitigated to closed, and reopening.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"mitigated"}),
    "mitigated": frozenset({"closed", "open"}),
    "closed": frozenset({"open"}),
}
ENTRY_KINDS = ("opened", "alert", "status", "note", "mitigation", "verification")


class TransitionError(UsageError):
    """A status change the lifecycle does not allow (the API answers 409)."""


def severity_label(level: int) -> str:
    """The label of a stored severity number."""
    return Severity(max(0, min(int(level), int(Severity.CRITICAL)))).label


def incident_fields(row: IncidentRow) -> dict[str, Any]:
    """The fields every view of an incident shows (API, CLI, dashboard)."""
    return {
        "id": row.id,
        "target": row.target,
        "cause": row.cause,
        "status": row.status,
        "severity": severity_label(row.severity),
        "title": row.title,
        "opened_at": iso(row.opened_at),
        "updated_at": iso(row.updated_at),
        "closed_at": iso(row.closed_at),
    }


def incident_document(row: IncidentRow) -> dict[str, Any]:
    """One incident as the API and CLI list it."""
    data = dict(row.data or {})
    return {
        **incident_fields(row),
        "alerts": int(data.get("alerts", 0)),
        "events": int(data.get("events", 0)),
        "kinds": list(data.get("kinds", [])),
    }


def entry_document(row: IncidentEntryRow) -> dict[str, Any]:
    """One timeline line."""
    return {
        "id": row.id,
        "time": iso(row.time),
        "kind": row.kind,
        "actor": row.actor,
        "text": row.text,
        "data": row.data,
    }


def alert_document(row: AlertRow) -> dict[str, Any]:
    """One stored alert, with each sink's outcome in data.sinks."""
    return {
        "id": row.id,
        "time": iso(row.time),
        "severity": severity_label(row.severity),
        "title": row.title,
        "source": row.source,
        "kind": row.kind,
        "client": row.client,
        "target": row.target,
        "cause": row.cause,
        "count": row.count,
        "detail": row.detail,
        "data": row.data,
        "incident_id": row.incident_id,
    }


def list_incidents(
    store: Store, status: str | None = None, target: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Incidents, most recently updated first, optionally of one status and target."""
    if status is not None and status not in INCIDENT_STATUSES:
        raise UsageError(
            f"unknown incident status {status!r}; one of {', '.join(INCIDENT_STATUSES)}"
        )
    query = select(IncidentRow).order_by(IncidentRow.updated_at.desc(), IncidentRow.id.desc())
    if status is not None:
        query = query.where(IncidentRow.status == status)
    if target is not None:
        query = query.where(IncidentRow.target == target)
    with store.transaction("list incidents") as session:
        return [incident_document(row) for row in session.scalars(query.limit(limit))]


def read_incident(session: Session, incident_id: int) -> dict[str, Any] | None:
    """An incident with its timeline (oldest first) and alerts, or None."""
    row = session.get(IncidentRow, incident_id)
    if row is None:
        return None
    entries = session.scalars(
        select(IncidentEntryRow)
        .where(IncidentEntryRow.incident_id == incident_id)
        .order_by(IncidentEntryRow.time, IncidentEntryRow.id)
    )
    alerts = session.scalars(
        select(AlertRow).where(AlertRow.incident_id == incident_id).order_by(AlertRow.time)
    )
    return {
        **incident_document(row),
        "data": row.data,
        "timeline": [entry_document(e) for e in entries],
        "alerts": [alert_document(a) for a in alerts],
        "alert_count": int((row.data or {}).get("alerts", 0)),
    }


def get_incident(store: Store, incident_id: int) -> dict[str, Any] | None:
    """An incident with timeline and alerts, or None when there is no such incident."""
    with store.transaction(f"read incident {incident_id}") as session:
        return read_incident(session, incident_id)


def add_entry(
    session: Session,
    incident_id: int,
    kind: str,
    actor: str,
    text: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Append a timeline line to an incident (in the caller's transaction)."""
    if kind not in ENTRY_KINDS:
        raise UsageError(f"unknown timeline entry kind {kind!r}; one of {', '.join(ENTRY_KINDS)}")
    session.add(
        IncidentEntryRow(
            incident_id=incident_id,
            time=utcnow(),
            kind=kind,
            actor=actor[:255],
            text=text,
            data=data or {},
        )
    )


def set_status(
    session: Session, incident_id: int, status: str | None, actor: str, note: str | None = None
) -> dict[str, Any] | None:
    """Move an incident to `status` (None: only add the note) with a timeline entry; None
    when it does not exist, TransitionError when the lifecycle forbids the change."""
    row = session.get(IncidentRow, incident_id)
    if row is None:
        return None
    if status is not None:
        if status not in TRANSITIONS.get(row.status, frozenset()):
            raise TransitionError(
                f"incident {incident_id} is {row.status}; it cannot become {status}"
            )
        text = f"status {row.status} -> {status}" + (f": {note}" if note else "")
        add_entry(session, incident_id, "status", actor, text, {"from": row.status, "to": status})
        row.status = status
        row.closed_at = utcnow() if status == "closed" else None
    elif note:
        add_entry(session, incident_id, "note", actor, note)
    row.updated_at = utcnow()
    session.flush()
    return incident_document(row)


def update_status(
    store: Store, incident_id: int, status: str | None, actor: str, note: str | None = None
) -> dict[str, Any] | None:
    """set_status in a transaction of its own."""
    with store.transaction(f"update incident {incident_id}", write=True) as session:
        return set_status(session, incident_id, status, actor, note)


def record_mitigation(
    store: Store, incident_id: int, actor: str, text: str, data: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Note an applied mitigation on the timeline and mark an open incident mitigated."""
    with store.transaction(f"record a mitigation of incident {incident_id}", write=True) as s:
        row = s.get(IncidentRow, incident_id)
        if row is None:
            return None
        add_entry(s, incident_id, "mitigation", actor, text, data)
        if row.status == "open":
            return set_status(s, incident_id, "mitigated", actor)
        row.updated_at = utcnow()
        return incident_document(row)


def record_verification(
    store: Store, incident_id: int, campaign_id: str, passed: bool, detail: str
) -> dict[str, Any] | None:
    """Record the campaign that verified a mitigation; a failed verification reopens a
    mitigated incident (the fix did not hold). None when there is no such incident."""
    verdict = "passed" if passed else "failed"
    with store.transaction(f"record a verification of incident {incident_id}", write=True) as s:
        row = s.get(IncidentRow, incident_id)
        if row is None:
            return None
        data = {"campaign_id": campaign_id, "passed": passed, "detail": detail}
        add_entry(
            s,
            incident_id,
            "verification",
            "redwatch",
            f"verifying campaign {verdict}: {detail}",
            data,
        )
        row.data = {**(row.data or {}), "verifications": [*row.data.get("verifications", []), data]}
        if not passed and row.status == "mitigated":
            return set_status(s, incident_id, "open", "redwatch", "verification failed")
        row.updated_at = utcnow()
        return incident_document(row)
