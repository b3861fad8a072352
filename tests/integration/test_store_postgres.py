"""The store test-suite again, on a real PostgreSQL server started by conftest.py.

Every test of tests/unit/store/test_store_repository.py and test_store_migrations.py runs
here with `database_url` pointing at a fresh PostgreSQL database; a few checks only make
sense against a server and follow.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, text

from redwatch.exceptions import StoreError
from redwatch.findings import Category, Finding, Severity
from redwatch.store import Store

pytestmark = pytest.mark.integration

UNIT_STORE_TESTS = Path(__file__).resolve().parents[1] / "unit" / "store"


def _unit_module(name: str) -> ModuleType:
    """Import a unit test module of the store by file location (assertions rewritten)."""
    loaded = sys.modules.get(name)
    if loaded is not None and Path(str(loaded.__file__)).resolve().parent == UNIT_STORE_TESTS:
        return loaded
    sys.path.insert(0, str(UNIT_STORE_TESTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(UNIT_STORE_TESTS))


for _module in (_unit_module("test_store_repository"), _unit_module("test_store_migrations")):
    for _name, _test in vars(_module).items():
        if _name.startswith("test_") and callable(_test):
            globals()[_name] = _test


@pytest.fixture
def database_url(fresh_postgres_url: str) -> str:
    """Each reused test gets its own empty PostgreSQL database."""
    return fresh_postgres_url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """Opened (and migrated) store on PostgreSQL."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


def test_session_database_is_reachable(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        assert store.url == postgres_url
        campaign_id = store.start_campaign("pg", "http", {"note": "session database"})
        assert store.get_campaign(campaign_id) is not None


def test_missing_database_is_one_line(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert str(caught.value) == (
        f'cannot connect to database {url}: database "no_such_database" does not exist'
    )


def test_plain_postgresql_scheme_uses_psycopg(database_url: str) -> None:
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    with Store.open(plain) as store:
        assert store.url.startswith("postgresql+psycopg://")


def test_stored_json_keeps_key_order_and_timestamps_are_timezone_aware(store: Store) -> None:
    campaign_id = store.start_campaign("pg", "sklearn", {"z": 1, "a": 2, "m": 3})
    finding = Finding("evasion.pgd", Category.EVASION, Severity.LOW, "t", target="pg")
    assert finding.fingerprint
    doc = store.get_campaign(campaign_id)
    assert doc is not None
    assert list(doc["campaign"]["config"]) == ["z", "a", "m"]
    with store.engine.connect() as conn:
        kind = conn.execute(
            text(
                "SELECT data_type FROM information_schema.columns"
                " WHERE table_name = 'campaigns' AND column_name = 'started_at'"
            )
        ).scalar_one()
    assert kind == "timestamp with time zone"


def test_two_stores_see_each_others_writes(database_url: str) -> None:
    with Store.open(database_url) as writer, Store.open(database_url) as reader:
        campaign_id = writer.start_campaign("shared", "sklearn", {})
        doc = reader.get_campaign(campaign_id)
        assert doc is not None
        assert doc["status"] == "running"
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM campaigns")).scalar_one() == 1
    engine.dispose()
