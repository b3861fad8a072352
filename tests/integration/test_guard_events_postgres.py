"""Guard events on a real PostgreSQL server (started by conftest.py).

Every test of tests/unit/store/test_store_events.py runs here with `database_url` pointing at
a fresh PostgreSQL database (idempotent batches under concurrent writers, the 0001 -> 0002
upgrade). Then the issue's proof: events stream through an EventRecorder while the server
is stopped and started again, and every event ends up in the store exactly once.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pg_server import PostgresServer
from sqlalchemy import func, select

from redwatch.guard.recorder import EventRecorder
from redwatch.guard.spool import pending_files
from redwatch.guard.stage import Action, GuardEvent
from redwatch.store import Store
from redwatch.store.models import EventRow

pytestmark = pytest.mark.integration

UNIT_STORE_TESTS = Path(__file__).resolve().parents[1] / "unit" / "store"
EVENTS = 5000


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


for _name, _test in vars(_unit_module("test_store_events")).items():
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


def _pg_ctl(server: PostgresServer, *args: str) -> None:
    """Run pg_ctl on the test server and insist that it worked."""
    import subprocess

    done = subprocess.run(
        server.command("pg_ctl", "-D", str(server.data_dir), *args),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"pg_ctl {args[-1]} failed: {done.stderr or done.stdout}"


def stop_server(server: PostgresServer) -> None:
    """Fast shutdown: open sessions are cut off, as in a crash of the database host."""
    _pg_ctl(server, "-m", "fast", "-w", "stop")


def start_server(server: PostgresServer) -> None:
    """Start it again on the same port with the options conftest.py uses."""
    options = (
        f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.base_dir}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    _pg_ctl(server, "-l", str(server.log_file), "-o", options, "-w", "-t", "60", "start")


def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = 120.0) -> None:
    """Synchronise with the writer thread; the deadline only turns a hang into a failure."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.02)


def serve(recorder: EventRecorder, events: list[GuardEvent]) -> None:
    """Feed events one call at a time from a serving thread."""
    for i, event in enumerate(events):
        recorder([event])
        if i % 200 == 0:
            time.sleep(0.002)


def test_postgres_outage_loses_nothing_and_stores_each_event_once(
    postgres_server: PostgresServer, fresh_postgres_url: str, tmp_path: Path
) -> None:
    Store.open(fresh_postgres_url).close()
    spool = tmp_path / "spool"
    events = [
        GuardEvent("ratelimit", "rate_limited", Action.BLOCK, f"call {i}", f"ip:{i % 17}", {"i": i})
        for i in range(EVENTS)
    ]
    recorder = EventRecorder(
        fresh_postgres_url,
        spool,
        source="proxy",
        batch_size=200,
        flush_interval_s=0.02,
        retry_interval_s=0.2,
        store_timeout_s=1.0,
    ).start()
    stopped = False
    try:
        serve(recorder, events[:1500])
        wait_until(lambda: recorder.stats.stored == 1500, "the first events in PostgreSQL")
        stop_server(postgres_server)
        stopped = True
        worker = threading.Thread(target=serve, args=(recorder, events[1500:3500]))
        worker.start()
        worker.join()
        wait_until(lambda: recorder.stats.spooled > 0, "the recorder to spool during the outage")
        start_server(postgres_server)
        stopped = False
        wait_until(lambda: recorder.stats.store_up, "the recorder to reconnect")
        serve(recorder, events[3500:])
        wait_until(lambda: recorder.stats.replayed > 0, "the spool to be replayed")
    finally:
        if stopped:
            start_server(postgres_server)
        recorder.close()
    with Store.open(fresh_postgres_url) as store, store.engine.connect() as conn:
        ids = list(conn.scalars(select(EventRow.id)))
        rows = conn.execute(select(func.count()).select_from(EventRow)).scalar_one()
    assert rows == len(ids) == len(set(ids)) == EVENTS
    assert set(ids) == {e.id for e in events}
    assert pending_files(spool) == []
    assert recorder.stats.lost == 0
    assert recorder.stats.stored > 1500  # direct writes again after the restart
    print(f"\nPostgreSQL outage: {recorder.stats.to_dict()}")
