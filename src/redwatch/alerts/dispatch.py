"""Alerter: an EventSink that turns guard events into alerts by rule, de-duplicates them and
hands them to sinks from a background thread, so serving never waits for a sink.

The serving thread only keeps the events some rule watches (a dict look-up) in a bounded
queue; past `max_queued` further events are counted in `dropped` and logged (every event is
still in the store through the EventRecorder; alerts are the fast lane, not the record).
After de-duplication a rule's `max_per_hour` caps the alerts sent per source (as the
service's alert hub does); alerts over the cap are counted in `rate_limited`, not sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from redwatch.alerts.alert import Alert
from redwatch.alerts.dedup import Deduper
from redwatch.alerts.rules import (
    DEFAULT_MAX_TRACKED,
    BurstTracker,
    Event,
    RateLimiter,
    Rule,
    RuleSet,
)
from redwatch.alerts.sinks import AlertSink, LogSink
from redwatch.exceptions import first_line

log = logging.getLogger("redwatch.alerts")

DEFAULT_MAX_QUEUED = 10_000
TICK_S = 1.0


class Alerter:
    """Events in (as an EventSink), alerts out to `sinks` (default: the log sink on the
    `redwatch.alerts` logger). `rules` None means the default rules; one alert per (source,
    kind, client) per `dedup_s` seconds. `start()` runs the dispatch thread, `close()`
    flushes. `process()` is the same logic, synchronous, for tests and batch use."""

    def __init__(
        self,
        rules: RuleSet | Iterable[Rule] | None = None,
        sinks: Sequence[AlertSink] | None = None,
        dedup_s: float = 300.0,
        *,
        source: str = "guard",
        max_queued: int = DEFAULT_MAX_QUEUED,
        max_tracked: int = DEFAULT_MAX_TRACKED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = _rule_set(rules)
        self.sinks = list(sinks) if sinks is not None else [LogSink()]
        self.dedup_s = dedup_s
        self.source = source
        self.max_queued = max_queued
        self.clock = clock
        self.tracker = BurstTracker(self.rules, max_tracked)
        self.deduper = Deduper(source, dedup_s)
        self.limiter = RateLimiter()
        self.sent = 0
        self.rate_limited = 0
        self.dropped = 0
        self.sink_failures = 0
        self._queue: deque[Event] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[Event]) -> None:
        """Queue the events some rule watches; never blocks, never raises."""
        try:
            for event in events:
                if not self.rules.watches(event.kind):
                    continue
                if len(self._queue) >= self.max_queued:
                    self._drop()
                    continue
                self._queue.append(event)
                self._wake.set()
        except Exception as exc:  # a sink must never break serving
            log.error("alerter: cannot take events: %s", first_line(exc))

    def _drop(self) -> None:
        """Count an event the full queue could not take; log the first of a run."""
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 10_000 == 0:
            log.warning("alerter: queue full, %d event(s) not evaluated so far", self.dropped)

    def process(self, events: Iterable[Event], now: float | None = None) -> list[Alert]:
        """Apply rules, de-duplication and the rules' hourly caps to events (plus windows
        that closed by `now`) and send the resulting alerts; returns those sent."""
        with self._lock:
            moment = self.clock() if now is None else now
            alerts = []
            for event in events:
                trigger = self.tracker.offer(event)
                if trigger is not None:
                    alert = self.deduper.offer(trigger, moment)
                    if alert is not None:
                        alerts.append(alert)
            alerts.extend(self.deduper.due(moment))
            alerts = self._limit(alerts, moment)
            self._send(alerts)
            return alerts

    def flush(self, now: float | None = None) -> list[Alert]:
        """Send what de-duplication still holds back (at shutdown); returns those alerts."""
        with self._lock:
            moment = self.clock() if now is None else now
            alerts = self._limit(self.deduper.flush(moment), moment)
            self._send(alerts)
            return alerts

    def _limit(self, alerts: list[Alert], now: float) -> list[Alert]:
        """The alerts within their rule's `max_per_hour` for their source; the others are
        counted in `rate_limited` and dropped."""
        kept = []
        for alert in alerts:
            rule = self.rules.rule(alert.kind)
            if rule is not None and not self.limiter.allow(rule, alert.source, now):
                self.rate_limited += 1
                continue
            kept.append(alert)
        return kept

    def _send(self, alerts: list[Alert]) -> None:
        """Every alert to every sink; a failing sink is logged and skipped."""
        for alert in alerts:
            for sink in self.sinks:
                try:
                    sink.send(alert)
                except Exception as exc:
                    self.sink_failures += 1
                    log.error("alert sink %s failed: %s", sink.name, first_line(exc))
            self.sent += 1

    # -- background thread -----------------------------------------------------------------

    def start(self) -> Alerter:
        """Start the dispatch thread (once); returns the alerter."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="redwatch-alerts", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Process what is queued, flush suppressed counts, stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._thread is None or not self._thread.is_alive():
            self.process(self._take())
            self.flush()

    def __enter__(self) -> Alerter:
        """Start; `with` closes on exit."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        """Close (flush) whatever happened inside the block."""
        self.close()

    def _run(self) -> None:
        """Dispatch loop: wake on events or every tick (closing de-dup windows on time)."""
        while not self._stop.is_set():
            self._wake.wait(min(TICK_S, self.dedup_s) if self.dedup_s > 0 else TICK_S)
            self._wake.clear()
            try:
                self.process(self._take())
            except Exception as exc:  # keep the thread alive whatever a rule does
                log.error("alerter: %s", first_line(exc))

    def _take(self) -> list[Event]:
        """Everything queued, oldest first."""
        taken: list[Event] = []
        while self._queue:
            try:
                taken.append(self._queue.popleft())
            except IndexError:
                break
        return taken


def _rule_set(rules: RuleSet | Iterable[Rule] | None) -> RuleSet:
    """The rules as a RuleSet; None means the default rules."""
    if rules is None:
        return RuleSet()
    return rules if isinstance(rules, RuleSet) else RuleSet(rules)
