"""SQLAlchemy models of the always-on service: API keys and the audit log, registered
targets with their schedules and model versions, the campaign job queue, guard policies,
monitored predictions and monitor points, alerts, incidents and their timelines.

Same portability rules as models.py: plain JSON, UTC timestamps, CHECK constraints on
status columns so a bad status never lands on either SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from redwatch.store.models import Base, UTCDateTime, _status_check, utcnow

ROLES = ("viewer", "analyst", "admin")
JOB_STATUSES = ("queued", "running", "completed", "failed", "interrupted")
JOB_REASONS = ("manual", "schedule", "model_change", "verify", "requeue")
INCIDENT_STATUSES = ("open", "mitigated", "closed")


class ApiKeyRow(Base):
    """One API key: only the SHA-256 of the secret is stored; `prefix` identifies it in
    listings and the audit log without revealing it."""

    __tablename__ = "api_keys"
    __table_args__ = (_status_check("role", ROLES),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditRow(Base):
    """One change made through the service: who (key id and role), what, on which object."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class RegistrationRow(Base):
    """A target the service watches: how to load and scan it (`spec`), its schedule
    (interval seconds or a cron line), the artifact hash and version last seen, the next
    due time, and the monitoring baseline's settings."""

    __tablename__ = "registrations"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    cron: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    monitor: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelVersionRow(Base):
    """A model file registered for a target (uploaded, or produced by `harden`); the newest
    is the one the service loads, guards and scans."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("target", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class JobRow(Base):
    """One queued campaign. A job survives restarts: a `running` job found at start-up is
    marked `interrupted` and a new job re-queues it (`requeued_from`)."""

    __tablename__ = "jobs"
    __table_args__ = (_status_check("status", JOB_STATUSES), _status_check("reason", JOB_REASONS))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(String(255), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    campaign_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    requeued_from: Mapped[str | None] = mapped_column(String(32), nullable=True)
    verifies: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)


class PolicyRow(Base):
    """A guard policy version for a target; at most one per target is active."""

    __tablename__ = "guard_policies"
    __table_args__ = (UniqueConstraint("target", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))


class ObservationRow(Base):
    """One prediction the guard served for a monitored target: inputs, score and answer,
    and the true label once it is posted (delayed-label evaluation)."""

    __tablename__ = "observations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target: Mapped[str] = mapped_column(String(255), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    features: Mapped[list[Any]] = mapped_column(JSON)
    prediction: Mapped[Any] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    label: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    labelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MonitorPointRow(Base):
    """One measured value of a monitor over time (a window's PSI of one feature, accuracy
    of the labelled predictions, a detector's statistic), for charts and the API."""

    __tablename__ = "monitor_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(255), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    metric: Mapped[str] = mapped_column(String(128), index=True)
    value: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class IncidentRow(Base):
    """Alerts grouped by target and cause within a window, with a status and a summary."""

    __tablename__ = "incidents"
    __table_args__ = (_status_check("status", INCIDENT_STATUSES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(255), index=True)
    cause: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AlertRow(Base):
    """One alert as sent: what, how bad, where from, its incident and each sink's outcome."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    severity: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(255))
    target: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    cause: Mapped[str] = mapped_column(String(128))
    count: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True, index=True
    )


class IncidentEntryRow(Base):
    """One line of an incident's timeline: an alert, a status change, a mitigation, a
    campaign that verified it, or a note."""

    __tablename__ = "incident_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
