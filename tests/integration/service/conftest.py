"""Fixtures of the service tests: the service on SQLite and on a real PostgreSQL server.

`service` is parametrised over both databases, so every API test runs twice; `service_sqlite`
is for the few tests whose subject is not the database (browsers, receivers, load). The
tests/ folder goes on sys.path for the helper modules shared with other suites
(campaign_records, service_seed).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_harness import Harness, db_url_for, start_service

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The service on SQLite, then on a fresh PostgreSQL database."""
    yield from start_service(tmp_path / "home", db_url_for(request, tmp_path))


@pytest.fixture
def service_sqlite(tmp_path: Path) -> Iterator[Harness]:
    """The service on SQLite only."""
    yield from start_service(tmp_path / "home", f"sqlite:///{tmp_path / 'service.db'}")
