"""Alerts in the store: persist one alert into the incident it joins (opening one when none
fits), note each sink's outcome, and list alerts for the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redwatch.alerts.alert import Alert
from redwatch.findings import Severity
from redwatch.incidents.grouping import JOINABLE, Candidate, incident_to_join, joined_severity
from redwatch.incidents.repo import add_entry, alert_document, set_status
from redwatch.store.repository import Store
from redwatch.store.service_models import AlertRow, IncidentRow

ACTOR = "redwatch"


@dataclass(frozen=True)
class AlertDraft:
    """An alert about to be stored: the alert, its target and cause, and extra data (the
    event's data, e.g. a finding's fingerprint)."""

    alert: Alert
    target: str
    cause: str
    data: dict[str, Any] = field(default_factory=dict)


def _when(epoch: float) -> datetime:
    """An aware UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(epoch, UTC)


def _candidates(session: Session, target: str, cause: str) -> list[Candidate]:
    """The incidents of (target, cause) an alert could still join."""
    rows = session.scalars(
        select(IncidentRow).where(
            IncidentRow.target == target,
            IncidentRow.cause == cause,
            IncidentRow.status.in_(JOINABLE),
        )
    )
    return [
        Candidate(
            row.id,
            row.target,
            row.cause,
            row.status,
            float((row.data or {}).get("last_alert_at", row.opened_at.timestamp())),
            row.severity,
        )
        for row in rows
    ]


def _open(session: Session, draft: AlertDraft) -> IncidentRow:
    """A new open incident for a draft's target and cause."""
    alert = draft.alert
    row = IncidentRow(
        target=draft.target,
        cause=draft.cause,
        status="open",
        severity=int(alert.severity),
        title=f"{draft.cause} on {draft.target}",
        opened_at=_when(alert.time),
        updated_at=_when(alert.time),
        data={"alerts": 0, "events": 0, "kinds": [], "last_alert_at": alert.time},
    )
    session.add(row)
    session.flush()
    add_entry(session, row.id, "opened", ACTOR, f"incident opened by {alert.kind}: {alert.title}")
    return row


def _extend(session: Session, row: IncidentRow, draft: AlertDraft) -> None:
    """Count the alert into its incident; a mitigated incident is reopened."""
    alert = draft.alert
    data = dict(row.data or {})
    kinds = list(dict.fromkeys([*data.get("kinds", []), alert.kind]))
    row.data = {
        **data,
        "alerts": int(data.get("alerts", 0)) + 1,
        "events": int(data.get("events", 0)) + alert.count,
        "kinds": kinds,
        "last_alert_at": max(float(data.get("last_alert_at", 0.0)), alert.time),
    }
    row.severity = joined_severity(row.severity, int(alert.severity))
    row.updated_at = _when(alert.time)
    if row.status == "mitigated":
        set_status(session, row.id, "open", ACTOR, f"new {alert.kind} alert after the mitigation")


def store_alert(session: Session, draft: AlertDraft, window_s: float) -> int:
    """Persist an alert into its incident (joined or opened); returns the incident id."""
    alert = draft.alert
    joined = incident_to_join(
        _candidates(session, draft.target, draft.cause),
        draft.target,
        draft.cause,
        alert.time,
        window_s,
    )
    row = session.get(IncidentRow, joined.id) if joined is not None else None
    if row is None:
        row = _open(session, draft)
    _extend(session, row, draft)
    session.add(
        AlertRow(
            id=alert.id,
            time=_when(alert.time),
            severity=int(alert.severity),
            title=alert.title,
            source=alert.source,
            kind=alert.kind,
            client=alert.client[:255],
            target=draft.target,
            cause=draft.cause,
            count=alert.count,
            detail=alert.detail,
            data={"event": draft.data, "sinks": {}},
            incident_id=row.id,
        )
    )
    entry = {"alert_id": alert.id, "kind": alert.kind, "severity": alert.severity.label}
    add_entry(session, row.id, "alert", ACTOR, alert.title, {**entry, "count": alert.count})
    return row.id


def note_outcomes(session: Session, outcomes: dict[str, dict[str, str]]) -> None:
    """Write each alert's sink outcomes (alert id -> sink -> "sent" or the error line)."""
    for alert_id, sinks in outcomes.items():
        row = session.get(AlertRow, alert_id)
        if row is not None:
            row.data = {**(row.data or {}), "sinks": sinks}


def list_alerts(
    store: Store,
    target: str | None = None,
    severity: Severity | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Stored alerts, newest first: of a target, at least a severity, at or after a time."""
    query = select(AlertRow).order_by(AlertRow.time.desc(), AlertRow.id)
    if target is not None:
        query = query.where(AlertRow.target == target)
    if severity is not None:
        query = query.where(AlertRow.severity >= int(severity))
    if since is not None:
        query = query.where(AlertRow.time >= since)
    with store.transaction("list alerts") as session:
        return [alert_document(row) for row in session.scalars(query.limit(limit))]
