"""Store.open: folders created for SQLite, and one-line errors for every bad URL."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from redwatch.exceptions import StoreError
from redwatch.store import Store
from redwatch.store.migrate import VERSION_TABLE


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_open_creates_the_sqlite_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "redwatch.db"
    with Store.open(f"sqlite:///{path}") as store:
        assert store.list_campaigns() == []
        assert store.url.endswith("redwatch.db")
    assert path.is_file()


def test_in_memory_sqlite_works() -> None:
    with Store.open("sqlite://") as store:
        campaign_id = store.start_campaign("m", "sklearn", {})
        doc = store.get_campaign(campaign_id)
        assert doc is not None
        assert doc["status"] == "running"


def test_unparsable_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"^invalid database URL 'not a url'$"):
        Store.open("not a url")


def test_unknown_dialect_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unsupported database URL 'nosuchdb://x/y'"):
        Store.open("nosuchdb://x/y")


def test_unreachable_server_message_masks_the_password() -> None:
    port = _closed_port()
    url = f"postgresql+psycopg://scanner:s3cret-pw@127.0.0.1:{port}/redwatch"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert message.startswith(
        f"cannot connect to database postgresql+psycopg://scanner:***@127.0.0.1:{port}/redwatch: "
    )
    assert "connection refused" in message.lower()
    assert "s3cret-pw" not in message
    assert "\n" not in message


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError, match="file is not a database"):
        Store.open(f"sqlite:///{path}")


def test_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create directory"):
        Store.open(f"sqlite:///{blocker / 'sub' / 'redwatch.db'}")


def test_schema_from_a_newer_redwatch_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    Store.open(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer redwatch"):
        Store.open(url)
