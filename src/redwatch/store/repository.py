"""Store: campaigns, findings and guard events in SQLite or PostgreSQL, behind one small
interface.

Only the engine (campaigns) and the guard's event recorder (events) write here. Completing a
campaign is one transaction: either every finding row and the report land together, or none
does and the campaign is marked failed. A batch of events is one transaction too, and an
event whose id is stored already is skipped, so replaying a spool is always safe.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

import redwatch
from redwatch.exceptions import StoreError, UsageError
from redwatch.findings import Severity
from redwatch.store import views
from redwatch.store.database import WRITE, mask_url, open_engine, reason
from redwatch.store.events import EventLike, event_document, event_values
from redwatch.store.models import CampaignRow, EventRow, FindingRow, TargetRow, utcnow

if TYPE_CHECKING:
    from redwatch.results import CampaignResult

ID_CHARS = frozenset("0123456789abcdef")
# Chronological order of campaigns; ties (same start time) broken the same way everywhere.
CHRONOLOGICAL = (CampaignRow.started_at, CampaignRow.finished_at, CampaignRow.id)


class _NotRunningError(StoreError):
    """complete_campaign was called for a campaign that is unknown or already finished."""


class Store:
    """Repository of targets, campaigns and findings; open one with Store.open(url)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, timeout_s: float | None = None) -> Store:
        """Connect to `url`, creating the SQLite folder and upgrading the schema to head.
        `timeout_s` bounds connecting (PostgreSQL) or waiting for SQLite's write lock."""
        return cls(open_engine(url, timeout_s))

    @property
    def url(self) -> str:
        """Database URL with the password masked."""
        return mask_url(self.engine.url)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def transaction(self, action: str, write: bool = False) -> AbstractContextManager[Session]:
        """A session in one transaction for the service's repositories (keys, jobs,
        incidents …); database errors become StoreError naming `action`."""
        return self._transaction(action, write)

    @contextmanager
    def _transaction(self, action: str, write: bool = False) -> Iterator[Session]:
        """Session in a transaction; database errors become StoreError naming `action`.

        TypeError/ValueError come from values JSON cannot encode (psycopg does not wrap them).
        """
        try:
            with self._sessions.begin() as session:
                if write:
                    session.connection(execution_options={WRITE: True})
                yield session
        except (SQLAlchemyError, TypeError, ValueError) as exc:
            raise StoreError(f"cannot {action}: {reason(exc)}") from exc

    # -- writing -------------------------------------------------------------------------

    def start_campaign(self, target: str, kind: str, config: dict[str, Any]) -> str:
        """Record a running campaign against `target` (created on first use); return its id."""
        campaign_id = uuid.uuid4().hex
        try:
            self._insert_campaign(campaign_id, target, kind, config)
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # Another writer created the same target a moment ago; now it exists.
            self._insert_campaign(campaign_id, target, kind, config)
        return campaign_id

    def _insert_campaign(
        self, campaign_id: str, target: str, kind: str, config: dict[str, Any]
    ) -> None:
        """Insert the running campaign row (and its target on first use)."""
        with self._transaction(f"start a campaign on {target!r}", write=True) as session:
            row = self._target(session, target, kind)
            session.add(
                CampaignRow(
                    id=campaign_id,
                    target_id=row.id,
                    status="running",
                    started_at=utcnow(),
                    config=config,
                    redwatch_version=redwatch.__version__,
                )
            )

    def complete_campaign(self, result: CampaignResult) -> None:
        """Write the findings, the report and status=completed atomically.

        On failure nothing of the findings remains, the campaign is marked failed with the
        error (in a separate transaction) and StoreError is raised.
        """
        try:
            self._write_result(result)
        except _NotRunningError:
            raise
        except Exception as exc:
            message = f"cannot store the results of campaign {result.id}: {reason(exc)}"
            self._mark_failed_after(result.id, message)
            raise StoreError(message) from exc

    def _write_result(self, result: CampaignResult) -> None:
        """The one transaction of complete_campaign."""
        with self._sessions.begin() as session:
            session.connection(execution_options={WRITE: True})
            row = self._running_campaign(session, result.id)
            session.add_all(
                views.finding_row(row.id, f, result.diff.get(f.fingerprint, "new"))
                for f in result.findings
            )
            session.flush()
            row.report = result.to_dict()
            row.status = "failed" if result.status == "failed" else "completed"
            row.finished_at = _parse_time(result.finished_at)
            session.flush()

    def _mark_failed_after(self, campaign_id: str, message: str) -> None:
        """Mark a campaign failed after its results could not be written."""
        try:
            self.fail_campaign(campaign_id, message)
        except StoreError as second:
            raise StoreError(f"{message}; marking it failed also failed: {second}") from second

    def fail_campaign(self, campaign_id: str, error: str) -> None:
        """Mark a campaign failed with a one-line error."""
        with self._transaction(f"mark campaign {campaign_id} failed", write=True) as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                raise StoreError(f"unknown campaign {campaign_id}")
            row.status = "failed"
            row.error = error
            row.finished_at = utcnow()

    def add_events(self, events: Iterable[EventLike], source: str) -> int:
        """Insert guard events (GuardEvent objects or their to_dict() mappings) in one
        transaction and return how many were new: an id stored already is skipped (ON
        CONFLICT DO NOTHING), so a batch may be sent again after a crash. `source` names the
        recording deployment unless an event mapping carries its own. DataError on a
        malformed event (nothing is written then)."""
        return self.add_event_rows([event_values(e, source) for e in events])

    def add_event_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert events already checked into column values (store.events.event_values) in
        one transaction; how many were new (ids stored already are skipped)."""
        unique = {row["id"]: row for row in rows}
        if not unique:
            return 0
        with self._transaction(f"store {len(unique)} event(s)", write=True) as session:
            return _insert_new_events(session.connection(), list(unique.values()))

    # -- reading -------------------------------------------------------------------------

    def list_events(
        self,
        *,
        kind: str | None = None,
        stage: str | None = None,
        client: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Stored events, newest first, filtered by exact kind, stage, client and source and
        by time (at or after `since`, a timezone-aware datetime; naive means UTC)."""
        with self._transaction("list events") as session:
            query = select(EventRow)
            for column, value in (
                (EventRow.kind, kind),
                (EventRow.stage, stage),
                (EventRow.client, client),
                (EventRow.source, source),
            ):
                if value is not None:
                    query = query.where(column == value)
            if since is not None:
                query = query.where(EventRow.time >= since)
            query = query.order_by(EventRow.time.desc(), EventRow.id).limit(max(limit, 0))
            return [event_document(row) for row in session.scalars(query)]

    def history(self, target: str) -> list[set[str]]:
        """Fingerprint sets of the completed campaigns on `target`, oldest first."""
        with self._transaction(f"read the history of {target!r}") as session:
            ids = session.scalars(
                select(CampaignRow.id)
                .join(TargetRow)
                .where(TargetRow.name == target, CampaignRow.status == "completed")
                .order_by(*CHRONOLOGICAL)
            ).all()
            sets: dict[str, set[str]] = {cid: set() for cid in ids}
            rows = session.execute(
                select(FindingRow.campaign_id, FindingRow.fingerprint).where(
                    FindingRow.campaign_id.in_(ids)
                )
            )
            for campaign_id, fingerprint in rows:
                sets[campaign_id].add(fingerprint)
        return [sets[cid] for cid in ids]

    def get_campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """Stored report plus status and error of a campaign; a unique id prefix will do."""
        with self._transaction(f"read campaign {campaign_id!r}") as session:
            row = self._resolve(session, campaign_id)
            return views.campaign_document(row) if row is not None else None

    def list_campaigns(self, target: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest campaigns first, each with its finding counts per severity."""
        with self._transaction("list campaigns") as session:
            query = select(CampaignRow).join(TargetRow)
            if target is not None:
                query = query.where(TargetRow.name == target)
            query = query.order_by(*(c.desc() for c in CHRONOLOGICAL))
            rows = session.scalars(query.limit(max(limit, 0))).all()
            counts = self._severity_counts(session, [r.id for r in rows])
            return [views.campaign_summary(r, counts[r.id]) for r in rows]

    def list_findings(
        self,
        target: str | None = None,
        severity_at_least: Severity | None = None,
        campaign: str | None = None,
        latest_only: bool = True,
    ) -> list[dict[str, Any]]:
        """Findings, most severe first. By default only those of each target's latest
        completed campaign; naming a campaign (or a unique id prefix) overrides that."""
        with self._transaction("list findings") as session:
            query = select(FindingRow).join(CampaignRow).join(TargetRow)
            if campaign is not None:
                row = self._resolve(session, campaign)
                if row is None:
                    raise UsageError(f"no campaign matches id {campaign!r}")
                query = query.where(FindingRow.campaign_id == row.id)
            elif latest_only:
                query = query.where(FindingRow.campaign_id.in_(_latest_completed()))
            if target is not None:
                query = query.where(TargetRow.name == target)
            if severity_at_least is not None:
                query = query.where(FindingRow.severity >= int(severity_at_least))
            query = query.order_by(
                FindingRow.severity.desc(), CampaignRow.started_at.desc(), FindingRow.id
            )
            return [views.finding_document(r) for r in session.scalars(query)]

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _target(session: Session, name: str, kind: str) -> TargetRow:
        """Existing target by name (kind refreshed) or a new one."""
        row = session.scalars(select(TargetRow).where(TargetRow.name == name)).one_or_none()
        if row is None:
            row = TargetRow(name=name, kind=kind, created_at=utcnow())
            session.add(row)
            session.flush()
        elif row.kind != kind:
            row.kind = kind
        return row

    @staticmethod
    def _running_campaign(session: Session, campaign_id: str) -> CampaignRow:
        """The campaign row that is about to be completed; StoreError if it is not running."""
        row = session.get(CampaignRow, campaign_id)
        if row is None:
            raise _NotRunningError(f"unknown campaign {campaign_id}")
        if row.status != "running":
            raise _NotRunningError(f"campaign {campaign_id} is already {row.status}")
        return row

    @staticmethod
    def _resolve(session: Session, campaign_id: str) -> CampaignRow | None:
        """Campaign by full id or unique prefix; None when nothing matches."""
        key = campaign_id.strip().lower()
        if not key or not set(key) <= ID_CHARS:
            return None
        rows = session.scalars(
            select(CampaignRow).where(CampaignRow.id.startswith(key)).limit(2)
        ).all()
        if len(rows) > 1:
            raise UsageError(f"campaign id prefix {campaign_id!r} is ambiguous; type more of it")
        return rows[0] if rows else None

    @staticmethod
    def _severity_counts(session: Session, ids: list[str]) -> dict[str, dict[str, int]]:
        """Finding counts per severity label for each campaign id."""
        out = {cid: views.empty_counts() for cid in ids}
        rows = session.execute(
            select(FindingRow.campaign_id, FindingRow.severity_label, func.count())
            .where(FindingRow.campaign_id.in_(ids))
            .group_by(FindingRow.campaign_id, FindingRow.severity_label)
        )
        for campaign_id, label, n in rows:
            out[campaign_id][label] = int(n)
        return out


def _insert_new_events(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id on SQLite and PostgreSQL (the returned
    ids are the new rows); elsewhere, insert the ids that are not stored yet."""
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        module = sqlite if name == "sqlite" else postgresql
        statement: Insert = module.insert(EventRow).on_conflict_do_nothing(index_elements=["id"])
        return len(conn.execute(statement.returning(EventRow.id), rows).all())
    stored = set(conn.scalars(select(EventRow.id).where(EventRow.id.in_([r["id"] for r in rows]))))
    new = [row for row in rows if row["id"] not in stored]
    if new:
        conn.execute(insert(EventRow), new)
    return len(new)


def _latest_completed() -> Any:
    """Subquery: id of the most recent completed campaign of every target."""
    ranked = (
        select(
            CampaignRow.id.label("id"),
            func.row_number()
            .over(
                partition_by=CampaignRow.target_id,
                order_by=[c.desc() for c in CHRONOLOGICAL],
            )
            .label("rank"),
        )
        .where(CampaignRow.status == "completed")
        .subquery()
    )
    return select(ranked.c.id).where(ranked.c.rank == 1)


def _parse_time(text: str) -> datetime:
    """Timestamp from the result's ISO text; now when it is empty or unreadable."""
    try:
        return datetime.fromisoformat(text) if text else utcnow()
    except ValueError:
        return utcnow()
