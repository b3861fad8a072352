"""/api/v1/events: analysts post batches (stored once, audited), viewers read them back
with filters; a malformed event or an oversized batch is a one-line 4xx and stores nothing."""

from __future__ import annotations

from typing import Any

from service_harness import Harness

from redwatch.guard.stage import Action, GuardEvent

EVENTS = "/api/v1/events"


def event(event_id: str, kind: str = "intrusion", client: str = "ip:1", **extra: Any) -> Any:
    """One posted event (GuardEvent.to_dict() form)."""
    made = GuardEvent("proxy", kind, Action.BLOCK, f"{kind} seen", client=client, id=event_id)
    return {**made.to_dict(), **extra}


def test_post_then_read_with_filters(service: Harness) -> None:
    batch = [event("e1"), event("e2", kind="extraction"), event("e3", client="ip:2")]
    posted = service.post(EVENTS, json={"source": "credit", "events": batch})
    assert posted.status_code == 201, posted.text
    assert posted.json() == {"source": "credit", "received": 3, "stored": 3}
    again = service.post(EVENTS, json={"source": "credit", "events": [event("e1"), event("e4")]})
    assert again.json()["stored"] == 1
    other = service.post(EVENTS, json={"source": "fraud", "events": [event("f1")]})
    assert other.status_code == 201
    listed = service.get(EVENTS, params={"source": "credit"}).json()
    assert sorted(e["id"] for e in listed) == ["e1", "e2", "e3", "e4"]
    assert [e["id"] for e in service.get(EVENTS, params={"kind": "extraction"}).json()] == ["e2"]
    assert [e["id"] for e in service.get(EVENTS, params={"client": "ip:2"}).json()] == ["e3"]
    assert len(service.get(EVENTS, params={"limit": 2}).json()) == 2
    later = service.get(EVENTS, params={"since": "2999-01-01T00:00:00Z"}).json()
    assert later == []
    audit = service.get("/api/v1/audit", role="admin", params={"action": "events.post"}).json()
    assert [(a["object"], a["detail"]["new"]) for a in audit] == [
        ("fraud", 1),
        ("credit", 1),
        ("credit", 3),
    ]
    assert audit[0]["actor"].startswith("test-analyst")


def test_malformed_event_is_named_and_nothing_is_stored(service: Harness) -> None:
    batch = [event("g1"), event("g2", timestamp="soon")]
    bad = service.post(EVENTS, json={"source": "credit", "events": batch})
    assert bad.status_code == 422
    assert bad.json() == {"error": "event g2: timestamp 'soon' is not a time"}
    not_a_mapping = service.post(EVENTS, json={"source": "credit", "events": [event("g3"), 7]})
    assert not_a_mapping.status_code == 422
    assert "events.1" in not_a_mapping.json()["error"]
    extra = service.post(EVENTS, json={"source": "x", "events": [], "more": 1})
    assert extra.status_code == 422
    assert service.get(EVENTS).json() == []


def test_batch_limit_and_roles(service: Harness) -> None:
    tiny = {"id": "x", "timestamp": 1, "stage": "s", "kind": "k", "action": "allow"}
    many = [{**tiny, "id": f"h{i}", "client": "", "detail": "", "data": {}} for i in range(5001)]
    too_many = service.post(EVENTS, json={"source": "credit", "events": many})
    assert too_many.status_code == 413
    assert too_many.json() == {"error": "at most 5000 events per batch, got 5001"}
    viewer = service.post(EVENTS, role="viewer", json={"source": "credit", "events": []})
    assert viewer.status_code == 403
    assert service.client.get(EVENTS).status_code == 401
    assert service.get(EVENTS).json() == []
