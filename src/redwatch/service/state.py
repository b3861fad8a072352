"""ServiceState: the one object every route reaches through `get_state(request)`; it holds
the store and the service's running parts, each built by `create_app`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from redwatch.service.settings import ServiceSettings
from redwatch.store.repository import Store

if TYPE_CHECKING:
    from redwatch.guard.stage import GuardEvent
    from redwatch.service.alert_hub import AlertHub
    from redwatch.service.events_hub import EventHub
    from redwatch.service.guards import GuardCache
    from redwatch.service.monitor_hub import MonitorHub
    from redwatch.service.worker import CampaignWorker


@dataclass
class ServiceState:
    """The store and the running parts: events in (hub), alerts out, campaigns (worker),
    monitoring, and the in-service guards. A part is None until create_app builds it."""

    settings: ServiceSettings
    store: Store
    events: EventHub | None = None
    alerts: AlertHub | None = None
    worker: CampaignWorker | None = None
    monitor: MonitorHub | None = None
    guards: GuardCache | None = None
    extra: dict[str, Any] | None = None

    def publish(self, events: Sequence[GuardEvent | Mapping[str, Any]], source: str) -> int:
        """Publish events through the event hub, or store them directly when the hub is not
        running (a part used on its own, in tests); how many were new."""
        if self.events is not None:
            return self.events.publish(events, source)
        return self.store.add_events(events, source)

    def refresh_guard(self, target: str) -> None:
        """Forget `target`'s in-service guard (when guards run), so that the next call
        rebuilds it with the active policy and the current model."""
        if self.guards is not None:
            self.guards.invalidate(target)


def get_state(request: Request) -> ServiceState:
    """The running service's state (a FastAPI dependency)."""
    state: ServiceState = request.app.state.redwatch
    return state


State = Annotated[ServiceState, Depends(get_state)]
