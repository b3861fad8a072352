"""AlertHub: the service's alerting part. Events published by the event hub are queued
(never blocking serving); a thread applies the rules (severity, bursts, minimum severity),
de-duplicates, rate-limits, persists every alert into the incident it joins, and sends it
to the sinks of the alerting file, writing each sink's outcome next to the alert."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redwatch.alerts.alert import Alert
from redwatch.alerts.config import AlertConfig, load_alert_config
from redwatch.alerts.rules import DEFAULT_RULES, BurstTracker, RateLimiter, Rule, RuleSet
from redwatch.alerts.sinks import LogSink
from redwatch.exceptions import StoreError, first_line
from redwatch.findings import Severity
from redwatch.guard.stage import GuardEvent
from redwatch.incidents.causes import cause_of
from redwatch.incidents.records import AlertDraft, note_outcomes, store_alert
from redwatch.service.settings import ServiceSettings
from redwatch.service.state import ServiceState
from redwatch.store.repository import Store

log = logging.getLogger("redwatch.alerts")

# The guard's rules plus the service's own kinds. A rule's severity is a floor: an event
# whose data names a severity (a finding's) alerts at the worse of the two.
SERVICE_RULES: tuple[Rule, ...] = (
    *DEFAULT_RULES,
    Rule("finding_new", Severity.INFO),
    Rule("finding_regressed", Severity.HIGH),
    Rule("drift", Severity.MEDIUM),
    Rule("score_drift", Severity.MEDIUM),
    Rule("performance", Severity.HIGH),
    Rule("integrity", Severity.CRITICAL),
    Rule("campaign_failed", Severity.MEDIUM),
    Rule("campaign_completed", None),
)
DEFAULT_DEDUP_S = 300.0
MAX_QUEUED = 10_000

DedupKey = tuple[str, str, str, str, str]


def service_alert_config(settings: ServiceSettings) -> AlertConfig:
    """The alerting file of the settings (its `defaults` are SERVICE_RULES), or without
    one the service rules and a log sink writing home/alerts.jsonl."""
    if settings.alerts_file is None:
        sink = LogSink(settings.home / "alerts.jsonl")
        return AlertConfig(RuleSet(SERVICE_RULES), (sink,), DEFAULT_DEDUP_S)
    return load_alert_config(settings.alerts_file, default_rules=SERVICE_RULES)


def build_alert_hub(state: ServiceState) -> AlertHub:
    """The PARTS builder: an AlertHub on the state's store and alerting settings."""
    config = service_alert_config(state.settings)
    return AlertHub(state.store, config, state.settings.incident_window_s)


def event_severity(rule: Rule, data: Mapping[str, Any]) -> Severity:
    """The rule's severity, raised to the event's own (`data.severity`) when it names one."""
    floor = rule.severity or Severity.INFO
    label = data.get("severity")
    if isinstance(label, str) and label.upper() in Severity.__members__:
        return max(floor, Severity[label.upper()])
    return floor


@dataclass
class _Held:
    """De-duplication state of one key: when its last alert went out, what was held back."""

    sent_at: float
    suppressed: int = 0


@dataclass(frozen=True)
class _Pending:
    """An alert decided on: its draft, and whether the rate limit keeps it from the sinks."""

    draft: AlertDraft
    limited: bool


def _as_event(raw: GuardEvent | Mapping[str, Any]) -> GuardEvent | None:
    """A GuardEvent from an event or its to_dict() form; None (logged) when malformed."""
    if isinstance(raw, GuardEvent):
        return raw
    try:
        return GuardEvent.from_dict(dict(raw))
    except (KeyError, ValueError, TypeError) as exc:
        log.warning("alert hub: malformed event skipped: %s", first_line(exc))
        return None


class AlertHub:
    """Events in (`process`), alerts out: stored with their incident, sent to sinks."""

    def __init__(
        self,
        store: Store,
        config: AlertConfig,
        window_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self.window_s = window_s
        self.clock = clock
        self.tracker = BurstTracker(config.rules)
        self.limiter = RateLimiter()
        self.held: dict[DedupKey, _Held] = {}
        self.dropped = 0
        self._queue: deque[tuple[GuardEvent, str]] = deque()
        self._cond = threading.Condition()
        self._queued = 0
        self._done = 0
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- intake ------------------------------------------------------------------------------

    def process(self, events: Sequence[GuardEvent | Mapping[str, Any]], source: str) -> None:
        """Queue the events some rule watches; never blocks on a sink or the store."""
        with self._cond:
            for raw in events:
                event = _as_event(raw)
                if event is None or not self.config.rules.watches(event.kind):
                    continue
                if len(self._queue) >= MAX_QUEUED:
                    self.dropped += 1
                    continue
                self._queue.append((event, source))
                self._queued += 1
            self._cond.notify_all()

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until everything queued so far is persisted and sent (tests)."""
        if self._thread is None or not self._thread.is_alive():
            self._drain()
            return
        with self._cond:
            goal = self._queued
            self._cond.wait_for(lambda: self._done >= goal, timeout_s)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the dispatch thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="redwatch-alert-hub", daemon=True
            )
            self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Handle what is queued, then stop the thread (joined within timeout_s)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("alert hub: thread still busy after %.0f s", timeout_s)
                return
        self._drain()

    def _run(self) -> None:
        """Dispatch loop: wait for events, handle them in batches."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._stop)
                if self._stop and not self._queue:
                    return
            self._drain()

    def _drain(self) -> None:
        """Handle everything queued now; count it done even when handling failed."""
        with self._cond:
            batch = list(self._queue)
            self._queue.clear()
        if not batch:
            return
        try:
            self.handle(batch, self.clock())
        except Exception as exc:  # keep the thread alive whatever a sink or rule does
            log.error("alert hub: %s", first_line(exc))
        finally:
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()

    # -- decisions ---------------------------------------------------------------------------

    def handle(self, batch: Sequence[tuple[GuardEvent, str]], now: float) -> list[Alert]:
        """Rules, de-duplication and rate limit over a batch; store, send, note outcomes."""
        pending = [p for p in (self.decide(event, source, now) for event, source in batch) if p]
        if not pending:
            return []
        self._persist(pending)
        outcomes = {p.draft.alert.id: self._send(p.draft.alert) for p in pending if not p.limited}
        try:
            with self.store.transaction("note alert deliveries", write=True) as session:
                note_outcomes(session, outcomes)
        except StoreError as exc:
            log.error("alert hub: %s", first_line(exc))
        return [p.draft.alert for p in pending]

    def decide(self, event: GuardEvent, source: str, now: float) -> _Pending | None:
        """The alert an event raises, or None (no rule, burst not reached, below the
        minimum severity, or held back as a duplicate)."""
        rule = self.config.rules.rule(event.kind)
        trigger = self.tracker.offer(event) if rule is not None else None
        if rule is None or trigger is None:
            return None
        severity = event_severity(rule, event.data)
        floor = self.config.min_severity
        if floor is not None and severity < floor:
            return None
        cause = cause_of(event.kind, event.data)
        fingerprint = str(event.data.get("fingerprint", ""))
        key = (source, event.kind, event.client, cause, fingerprint)
        count = self._dedup(key, trigger.count, now)
        if count is None:
            return None
        alert = Alert(
            severity=severity,
            title=f"{event.kind} on {source}: {event.detail}"[:300],
            source=source,
            kind=event.kind,
            client=event.client,
            count=count,
            first_event_id=trigger.first_event_id,
            last_event_id=event.id,
            detail=f"{event.stage}: {event.detail}",
            time=now,
        )
        limited = not self.limiter.allow(rule, source, now)
        data = {**event.data, **({"rate_limited": True} if limited else {})}
        return _Pending(AlertDraft(alert, source, cause, data), limited)

    def _dedup(self, key: DedupKey, count: int, now: float) -> int | None:
        """The count to alert with (plus what was held back), or None while the key's
        window (dedup_s since its last alert) is still open."""
        held = self.held.get(key)
        if held is not None and now - held.sent_at < self.config.dedup_s:
            held.suppressed += count
            return None
        if len(self.held) >= MAX_QUEUED:  # forget keys whose window closed long ago
            window = self.config.dedup_s
            self.held = {k: h for k, h in self.held.items() if now - h.sent_at < window}
        self.held[key] = _Held(sent_at=now)
        return count + (held.suppressed if held is not None else 0)

    # -- effects -----------------------------------------------------------------------------

    def _persist(self, pending: Sequence[_Pending]) -> None:
        """Store the alerts with their incidents in one transaction (logged on failure)."""
        try:
            with self.store.transaction(f"store {len(pending)} alert(s)", write=True) as session:
                for item in pending:
                    store_alert(session, item.draft, self.window_s)
        except StoreError as exc:
            log.error("alert hub: %s", first_line(exc))

    def _send(self, alert: Alert) -> dict[str, str]:
        """Send an alert to every sink; sink name -> "sent" or the error line."""
        outcome = {}
        for index, sink in enumerate(self.config.sinks):
            name = sink.name if sink.name not in outcome else f"{sink.name}#{index}"
            try:
                sink.send(alert)
                outcome[name] = "sent"
            except Exception as exc:
                outcome[name] = f"failed: {first_line(exc)}"
                log.error("alert sink %s failed: %s", name, first_line(exc))
        return outcome
