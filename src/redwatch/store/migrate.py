"""Alembic driven from code: the migration scripts ship inside the package, so a user never
needs an alembic.ini in the working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "redwatch_alembic_version"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic configuration pointing at the packaged scripts, bound to a connection or URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema on this connection up to `revision` (the caller commits)."""
    command.upgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    """Newest revision shipped with this version of redwatch."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """Revision the database on this connection is at, None when it was never migrated."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()
