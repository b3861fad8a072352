"""SQLAlchemy models of the store: targets, campaigns, the findings each campaign produced,
and the events the runtime guard recorded.

Types are chosen to behave the same on SQLite and PostgreSQL: plain JSON (keeps key order,
unlike JSONB) and timestamps that always come back timezone-aware in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

CAMPAIGN_STATUSES = ("running", "completed", "failed")
FINDING_STATUSES = ("new", "open", "regressed")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamp stored in UTC and read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; a naive value is taken to be UTC already."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach or normalise the UTC zone."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _status_check(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """CHECK constraint restricting a status column to its allowed values."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention Alembic relies on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TargetRow(Base):
    """A tested model or endpoint, identified by the name the user gave it."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaigns: Mapped[list[CampaignRow]] = relationship(back_populates="target")


class CampaignRow(Base):
    """One campaign; `report` holds CampaignResult.to_dict() once it completed."""

    __tablename__ = "campaigns"
    __table_args__ = (_status_check("status", CAMPAIGN_STATUSES),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    redwatch_version: Mapped[str] = mapped_column(String(32))

    target: Mapped[TargetRow] = relationship(back_populates="campaigns")
    findings: Mapped[list[FindingRow]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", passive_deletes=True
    )


class FindingRow(Base):
    """One finding of one campaign, with its status against earlier campaigns."""

    __tablename__ = "findings"
    __table_args__ = (_status_check("status", FINDING_STATUSES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    probe: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[int] = mapped_column(Integer, index=True)
    severity_label: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    campaign: Mapped[CampaignRow] = relationship(back_populates="findings")


class EventRow(Base):
    """One guard event, keyed by the event's own id so that replaying a spool twice stores
    it once. `source` names the deployment (proxy, service) that recorded it."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(255))
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))
    client: Mapped[str] = mapped_column(String(255), index=True)
    detail: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
