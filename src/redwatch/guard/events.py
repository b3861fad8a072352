"""Event sinks side by side: `fanout(recorder, alerter, metrics.observe)` hands each call's
events to every sink, and one sink's failure never reaches serving nor the other sinks."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redwatch.exceptions import first_line
from redwatch.guard.model import EventSink
from redwatch.guard.stage import GuardEvent

log = logging.getLogger("redwatch.guard.events")


class Fanout:
    """An EventSink calling each sink in order; an exception from one is logged the first
    time (then only counted in `failures`, one count per sink) and the others still run."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = tuple(sinks)
        self.failures = [0] * len(self.sinks)

    def __call__(self, events: list[GuardEvent]) -> None:
        """Hand the events to every sink; never raises."""
        for index, target in enumerate(self.sinks):
            try:
                target(events)
            except Exception as exc:
                self.failures[index] += 1
                if self.failures[index] == 1:
                    log.error("event sink %s failed: %s", _name(target), first_line(exc))


def fanout(*sinks: EventSink) -> EventSink:
    """One EventSink that calls each of `sinks`, isolating their failures."""
    return Fanout(sinks)


def _name(sink: EventSink) -> str:
    """A readable name of a sink for the log."""
    return str(getattr(sink, "__qualname__", None) or type(sink).__name__)
