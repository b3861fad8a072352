"""The packaged Alembic migrations produce exactly the schema the models declare.

The PostgreSQL integration suite reuses these tests by overriding `database_url`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from redwatch.store import Store
from redwatch.store.migrate import VERSION_TABLE, alembic_config, current_revision, head_revision
from redwatch.store.models import Base

TABLES = {"targets", "campaigns", "findings"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'schema.db'}"


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    Store.open(database_url).close()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)
        assert set(inspect(conn).get_table_names()) >= TABLES
    engine.dispose()
    assert differences == []


def test_open_stamps_the_head_revision_and_is_idempotent(database_url: str) -> None:
    Store.open(database_url).close()
    Store.open(database_url).close()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert head_revision() == "0003"
    engine.dispose()


def test_downgrade_to_base_and_back(database_url: str) -> None:
    Store.open(database_url).close()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    with engine.connect() as conn:
        assert not TABLES & set(inspect(conn).get_table_names())
        assert current_revision(conn) is None
    engine.dispose()
    with Store.open(database_url) as store:
        assert store.list_campaigns() == []


def test_migrations_run_from_the_url_without_a_connection(database_url: str) -> None:
    command.upgrade(alembic_config(url=database_url), "head")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= TABLES
    engine.dispose()
