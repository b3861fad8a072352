"""EventHub: the one door through which every signal enters the service. A batch of events
is checked as a whole, stored in one transaction (ids stored already are skipped), then
handed to the alert hub, which queues it and never blocks the caller."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from redwatch.exceptions import DataError
from redwatch.guard.stage import Action, GuardEvent
from redwatch.service.state import ServiceState
from redwatch.store.events import event_values

log = logging.getLogger("redwatch.service.events")

EventInput = GuardEvent | Mapping[str, Any]
ACTIONS = frozenset(action.value for action in Action)


def checked_event(event: EventInput, source: str) -> tuple[GuardEvent, dict[str, Any]]:
    """`event` as a GuardEvent and as the store's column values, checked once; DataError
    naming the event and the problem when it is malformed (bad id, missing key, time, data,
    action)."""
    values = event_values(event, source)
    if isinstance(event, GuardEvent):
        return event, values
    action = str(event.get("action"))
    if action not in ACTIONS:
        allowed = ", ".join(sorted(ACTIONS))
        raise DataError(f"event {values['id']}: action {action!r} is not one of {allowed}")
    checked = GuardEvent(
        stage=values["stage"],
        kind=values["kind"],
        action=Action(action),
        detail=values["detail"],
        client=values["client"],
        data=values["data"],
        timestamp=values["time"].timestamp(),
        id=values["id"],
    )
    return checked, values


class EventHub:
    """Stores published events and passes them on to `state.alerts` (when there is one)."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def start(self) -> None:
        """Nothing runs in the background: publishing happens on the caller's thread."""

    def close(self) -> None:
        """Nothing to stop (see start)."""

    def publish(self, events: Sequence[EventInput], source: str) -> int:
        """Check every event, store them in one transaction, hand them to the alert hub;
        the number that were new. DataError (nothing stored) when one is malformed."""
        pairs = [checked_event(event, source) for event in events]
        if not pairs:
            return 0
        new = self.state.store.add_event_rows(values for _, values in pairs)
        checked = [event for event, _ in pairs]
        alerts = self.state.alerts
        if alerts is not None:
            try:
                alerts.process(checked, source)
            except Exception:  # the events are stored; alerting trouble must not undo that
                log.exception("the alert hub refused %d event(s) from %s", len(checked), source)
        return new


def build_event_hub(state: ServiceState) -> EventHub:
    """The service's event hub (a PARTS entry of create_app)."""
    return EventHub(state)
