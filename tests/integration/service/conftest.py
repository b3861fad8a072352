"""Fixtures of the service tests: the service on SQLite and on a real PostgreSQL server.

`service` is parametrised over both databases, so every API test runs twice; `service_sqlite`
is for the few tests whose subject is not the database (browsers, receivers, load).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_harness import Harness, start_service


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The service on SQLite, then on a fresh PostgreSQL database."""
    if request.param == "postgres":
        db_url = request.getfixturevalue("fresh_postgres_url")
    else:
        db_url = f"sqlite:///{tmp_path / 'service.db'}"
    yield from start_service(tmp_path / "home", db_url)


@pytest.fixture
def service_sqlite(tmp_path: Path) -> Iterator[Harness]:
    """The service on SQLite only."""
    yield from start_service(tmp_path / "home", f"sqlite:///{tmp_path / 'service.db'}")
