"""EventHub on a real SQLite store: a batch is checked whole, stored once (replays are
skipped), handed to the alert hub as GuardEvents, and a malformed event stores nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from redwatch.exceptions import DataError
from redwatch.guard.stage import Action, GuardEvent
from redwatch.service.events_hub import build_event_hub, checked_event
from redwatch.service.settings import ServiceSettings
from redwatch.service.state import ServiceState
from redwatch.store import Store


class Recording:
    """An alert hub that keeps what it was given (and can be told to fail)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.batches: list[tuple[list[Any], str]] = []

    def process(self, events: Sequence[Any], source: str) -> None:
        """Record the batch, or raise as a broken hub would."""
        if self.fail:
            raise RuntimeError("sink down")
        self.batches.append((list(events), source))


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ServiceState]:
    """A service state on a fresh SQLite store."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store.open(url)
    yield ServiceState(settings=ServiceSettings(home=tmp_path, db_url=url), store=store)
    store.close()


def mapping(event_id: str, **changes: Any) -> dict[str, Any]:
    """A posted event in GuardEvent.to_dict() form."""
    base = GuardEvent("proxy", "intrusion", Action.BLOCK, "blocked", client="ip:1", id=event_id)
    return {**base.to_dict(), **changes}


def test_publish_stores_once_and_feeds_alerts(state: ServiceState) -> None:
    alerts = Recording()
    state.alerts = alerts  # type: ignore[assignment]
    hub = build_event_hub(state)
    hub.start()
    objects = [GuardEvent("monitor", "drift", Action.ALLOW, "psi 0.4", data={"psi": 0.4})]
    assert hub.publish([*objects, mapping("a1"), mapping("a2")], "credit") == 3
    assert hub.publish([mapping("a1"), mapping("a3")], "credit") == 1
    hub.close()
    stored = state.store.list_events(source="credit", limit=10)
    assert sorted(e["id"] for e in stored) == sorted(["a1", "a2", "a3", objects[0].id])
    assert [len(batch) for batch, _ in alerts.batches] == [3, 2]
    first, source = alerts.batches[0]
    assert source == "credit"
    assert all(isinstance(e, GuardEvent) for e in first)
    assert first[1].action is Action.BLOCK
    assert first[1].client == "ip:1"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (mapping("b1", action="explode"), "event b1: action 'explode'"),
        (mapping("b1", timestamp="yesterday"), "event b1: timestamp"),
        (mapping("b1", data=[1, 2]), "event b1: data must be a mapping"),
        ({"id": "b1", "kind": "x"}, "event b1 lacks"),
        (mapping("", kind="x"), "event id must be text"),
    ],
)
def test_a_malformed_event_stores_nothing(state: ServiceState, bad: Any, message: str) -> None:
    alerts = Recording()
    state.alerts = alerts  # type: ignore[assignment]
    with pytest.raises(DataError, match=message):
        build_event_hub(state).publish([mapping("ok"), bad], "credit")
    assert state.store.list_events(limit=10) == []
    assert alerts.batches == []


def test_without_alerts_or_with_a_failing_hub_events_are_still_stored(
    state: ServiceState,
) -> None:
    hub = build_event_hub(state)
    assert hub.publish([mapping("c1")], "s") == 1
    assert hub.publish([], "s") == 0
    state.alerts = Recording(fail=True)  # type: ignore[assignment]
    assert hub.publish([mapping("c2")], "s") == 1
    assert {e["id"] for e in state.store.list_events(limit=10)} == {"c1", "c2"}


def test_iso_timestamps_are_kept() -> None:
    event, _ = checked_event(mapping("d1", timestamp="2026-01-02T03:04:05"), "s")
    assert event.timestamp == pytest.approx(1767323045.0)
