"""Turning a database URL into a ready, migrated SQLAlchemy engine, with one-line errors.

SQLite gets real transactions (the driver's implicit ones skip DDL), foreign keys and a busy
timeout; every failure becomes a StoreError naming the URL with its password masked.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from redwatch.exceptions import StoreError
from redwatch.store import migrate

SQLITE_BUSY_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 10
# Execution option marking a transaction that will write: SQLite takes the write lock at
# BEGIN (no lock-upgrade deadlocks between writers), PostgreSQL needs nothing special.
WRITE = "redwatch_write"
# Arbitrary constant naming the PostgreSQL advisory lock that serialises migrations.
MIGRATION_LOCK_ID = 7_265_747_761


def mask_url(url: str | URL) -> str:
    """The URL with any password replaced by ***; unparsable text is returned as is."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def reason(exc: BaseException) -> str:
    """Short, one-line cause of a database error (driver message without the boilerplate)."""
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    lines = [ln.strip() for ln in str(inner).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(inner).__name__
    if "connection" in text.lower() and ": " in text:
        text = text.rsplit(": ", 1)[1].strip()
    text = text.removeprefix("FATAL:").strip()
    return text[:1].lower() + text[1:] if text else type(inner).__name__


def _json_dumps(value: Any) -> str:
    """Strict JSON (no NaN/Infinity) so that SQLite accepts exactly what PostgreSQL accepts."""
    return json.dumps(value, allow_nan=False)


def _parse(url: str) -> URL:
    """Parse a database URL or raise StoreError; plain postgresql:// (or postgres://) uses
    psycopg 3, the driver the `postgres` extra installs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"invalid database URL {mask_url(url)!r}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory(parsed: URL) -> bool:
    """True for an in-memory SQLite database."""
    return parsed.database in (None, "", ":memory:")


def _prepare_sqlite_file(parsed: URL) -> None:
    """Create the directory of an SQLite database file."""
    if _is_memory(parsed) or str(parsed.database).startswith("file:"):
        return
    folder = Path(str(parsed.database)).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create directory {folder} for the database: {exc}") from None


def _install_sqlite_hooks(engine: Engine, in_memory: bool, busy_timeout_s: float) -> None:
    """Foreign keys, WAL (readers never wait for the writer) and SQLAlchemy, not the driver,
    issuing BEGIN, so that DDL is transactional and writers lock up front; a writer waits at
    most `busy_timeout_s` for another one's lock."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout_s * 1000)}")
        if not in_memory:
            _enable_wal(cursor, busy_timeout_s)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        writes = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _enable_wal(cursor: Any, busy_timeout_s: float) -> None:
    """Switch the file to WAL once (the mode persists in the file). SQLite answers "locked"
    at once, without its busy handler, when another connection is creating the database at
    the same moment, so the switch is retried until the busy timeout."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _create_engine(parsed: URL, timeout_s: float | None = None) -> Engine:
    """Build the engine for a parsed URL; a missing dialect or driver is a StoreError.
    `timeout_s` bounds connecting (PostgreSQL, whole seconds) or waiting for a lock (SQLite)."""
    options: dict[str, Any] = {"json_serializer": _json_dumps}
    if parsed.get_backend_name() == "postgresql":
        connect_s = CONNECT_TIMEOUT_S if timeout_s is None else max(1, math.ceil(timeout_s))
        options["connect_args"] = {"connect_timeout": connect_s}
        options["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"unsupported database URL {mask_url(parsed)!r}: {exc}") from None
    except (ArgumentError, TypeError) as exc:
        raise StoreError(f"invalid database URL {mask_url(parsed)!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        busy_s = SQLITE_BUSY_TIMEOUT_S if timeout_s is None else timeout_s
        _install_sqlite_hooks(engine, in_memory=_is_memory(parsed), busy_timeout_s=busy_s)
    return engine


def _check_connection(engine: Engine) -> None:
    """Open one connection so that a wrong host or password fails here, clearly."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot connect to database {mask_url(engine.url)}: {reason(exc)}"
        ) from None


def _upgrade_schema(engine: Engine) -> None:
    """Apply pending migrations in one transaction, one process at a time."""
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
                migrate.upgrade(conn)
    except CommandError as exc:
        raise StoreError(
            f"cannot upgrade database schema of {mask_url(engine.url)}: {exc}"
            " (was it written by a newer redwatch?)"
        ) from None
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot upgrade database schema of {mask_url(engine.url)}: {reason(exc)}"
        ) from None


def open_engine(url: str, timeout_s: float | None = None) -> Engine:
    """Engine for `url`, connected once and migrated to the newest schema. `timeout_s`
    overrides the default connect timeout (PostgreSQL) or busy timeout (SQLite)."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed)
    engine = _create_engine(parsed, timeout_s)
    try:
        _check_connection(engine)
        _upgrade_schema(engine)
    except StoreError:
        engine.dispose()
        raise
    return engine
