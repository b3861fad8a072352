"""Guard events in the store: idempotent batches, filters, strict data, and the 0001 -> 0002
migration of an existing database.

tests/integration/test_guard_events_postgres.py runs every test here again on PostgreSQL by
overriding `database_url`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select, text

from redwatch.exceptions import DataError
from redwatch.guard.stage import Action, GuardEvent
from redwatch.store import Store
from redwatch.store.migrate import alembic_config, current_revision
from redwatch.store.models import EventRow

T0 = 1_750_000_000.0


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """Opened (and migrated) store."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


def make_event(
    n: int, kind: str = "intrusion", client: str = "ip:10.0.0.1", **data: Any
) -> GuardEvent:
    """Event number n, n seconds after T0."""
    return GuardEvent(
        stage="auth",
        kind=kind,
        action=Action.BLOCK,
        detail=f"event {n}",
        client=client,
        data={"n": n, **data},
        timestamp=T0 + n,
    )


def stored_ids(store: Store) -> list[str]:
    """Every stored event id (with repetitions, if there were any)."""
    with store.engine.connect() as conn:
        return list(conn.scalars(select(EventRow.id)))


def test_add_events_is_idempotent_by_event_id(store: Store) -> None:
    events = [make_event(n) for n in range(50)]
    assert store.add_events(events, "proxy") == 50
    assert store.add_events(events, "proxy") == 0
    more = [make_event(n) for n in range(50, 60)]
    assert store.add_events(events[:5] + more, "proxy") == 10
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == 60
    assert set(ids) == {e.id for e in events + more}


def test_duplicates_inside_one_batch_count_once(store: Store) -> None:
    event = make_event(1)
    assert store.add_events([event, event.to_dict(), event], "proxy") == 1
    assert stored_ids(store) == [event.id]


def test_round_trip_of_objects_and_mappings_with_their_source(store: Store) -> None:
    first = make_event(1, score=0.25)
    second = {**make_event(2).to_dict(), "source": "replayed-proxy"}
    assert store.add_events([first, second], "service") == 2
    rows = store.list_events()
    assert [r["id"] for r in rows] == [second["id"], first.id]
    doc = rows[1]
    assert doc["source"] == "service"
    assert rows[0]["source"] == "replayed-proxy"
    assert doc["data"] == {"n": 1, "score": 0.25}
    assert (doc["stage"], doc["kind"], doc["action"], doc["client"], doc["detail"]) == (
        "auth",
        "intrusion",
        "block",
        "ip:10.0.0.1",
        "event 1",
    )
    assert math.isclose(doc["timestamp"], T0 + 1, abs_tol=1e-5)
    assert datetime.fromisoformat(doc["time"]) == datetime.fromtimestamp(T0 + 1, UTC)
    assert datetime.fromisoformat(doc["recorded_at"]).tzinfo is not None


def test_list_events_filters_and_limit(store: Store) -> None:
    events = [
        make_event(n, kind="intrusion" if n % 2 else "rate_limited", client=f"ip:{n % 3}")
        for n in range(30)
    ]
    store.add_events(events, "proxy")
    store.add_events([make_event(100, kind="anomaly")], "service")
    newest = store.list_events(limit=5)
    assert [r["detail"] for r in newest] == [
        "event 100",
        "event 29",
        "event 28",
        "event 27",
        "event 26",
    ]
    odd = store.list_events(kind="intrusion", limit=100)
    assert len(odd) == 15
    assert all(r["kind"] == "intrusion" for r in odd)
    one = store.list_events(kind="rate_limited", client="ip:0", limit=100)
    assert sorted(int(r["data"]["n"]) for r in one) == [0, 6, 12, 18, 24]
    assert [r["kind"] for r in store.list_events(source="service")] == ["anomaly"]
    assert store.list_events(stage="validate") == []
    since = datetime.fromtimestamp(T0 + 25, UTC)
    assert [r["data"]["n"] for r in store.list_events(since=since, source="proxy")] == [
        29,
        28,
        27,
        26,
        25,
    ]
    naive = since.replace(tzinfo=None) + timedelta(seconds=3)
    assert len(store.list_events(since=naive, source="proxy")) == 2
    assert store.list_events(limit=0) == []


def test_a_malformed_event_refuses_the_whole_batch(store: Store) -> None:
    good = make_event(1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({**make_event(2).to_dict(), "data": {"score": float("nan")}}, "not strict JSON"),
        ({**make_event(3).to_dict(), "timestamp": "yesterday"}, "is not a time"),
        ({**make_event(4).to_dict(), "timestamp": float("inf")}, "is not a time"),
        ({**make_event(5).to_dict(), "id": ""}, "event id must be text"),
        ({**make_event(6).to_dict(), "id": "x" * 65}, "event id must be text"),
        ({k: v for k, v in make_event(7).to_dict().items() if k != "kind"}, "lacks kind"),
        ({**make_event(8).to_dict(), "data": [1, 2]}, "data must be a mapping"),
    ]
    for bad, message in cases:
        with pytest.raises(DataError, match=message):
            store.add_events([good, bad], "proxy")
    with pytest.raises(DataError, match="must be a mapping"):
        store.add_events([42], "proxy")  # type: ignore[list-item]
    assert stored_ids(store) == []


def test_long_text_is_clipped_to_the_columns(store: Store) -> None:
    event = GuardEvent("s" * 100, "k" * 100, Action.ALLOW, "d" * 5000, "c" * 1000, {})
    assert store.add_events([event], "p" * 1000) == 1
    (row,) = store.list_events()
    assert (len(row["stage"]), len(row["kind"]), len(row["client"]), len(row["source"])) == (
        64,
        64,
        255,
        255,
    )
    assert row["detail"] == "d" * 5000


def test_concurrent_writers_of_the_same_events_store_each_once(database_url: str) -> None:
    events = [make_event(n) for n in range(400)]
    stores = [Store.open(database_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            new = list(pool.map(lambda s: s.add_events(events, "proxy"), stores))
    finally:
        for opened in stores:
            opened.close()
    assert sum(new) == 400
    with Store.open(database_url) as store:
        ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == 400


def test_upgrade_of_an_existing_0001_database_keeps_its_data(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(
            text("INSERT INTO targets (name, kind, created_at) VALUES ('legacy', 'sklearn', :t)"),
            {"t": datetime.now(UTC)},
        )
    with engine.connect() as conn:
        assert current_revision(conn) == "0001"
        assert "events" not in inspect(conn).get_table_names()
    engine.dispose()
    with Store.open(database_url) as store:
        campaign = store.start_campaign("legacy", "sklearn", {"note": "after the upgrade"})
        assert store.add_events([make_event(1)], "proxy") == 1
        assert store.list_campaigns(target="legacy")[0]["id"] == campaign
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert current_revision(conn) == "0003"
        assert conn.execute(text("SELECT count(*) FROM targets")).scalar_one() == 1
    engine.dispose()


def test_downgrade_to_0001_drops_only_the_events(database_url: str) -> None:
    with Store.open(database_url) as store:
        store.start_campaign("kept", "sklearn", {})
        store.add_events([make_event(1)], "proxy")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    with engine.connect() as conn:
        assert current_revision(conn) == "0001"
        tables = set(inspect(conn).get_table_names())
        assert "events" not in tables
        assert {"targets", "campaigns", "findings"} <= tables
        assert conn.execute(select(func.count()).select_from(text("campaigns"))).scalar_one() == 1
    engine.dispose()
    with Store.open(database_url) as store:
        assert store.list_events() == []
        assert store.add_events([make_event(1)], "proxy") == 1
