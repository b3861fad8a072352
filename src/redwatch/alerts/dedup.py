"""De-duplication: one alert per (source, kind, client) per `dedup_s` seconds.

Triggers inside the window are counted, not sent; the next alert of that key carries them in
its count (and names the first of their events). When a window closes with suppressed
triggers and nothing new arrives, they go out as one summary alert, so no count is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from redwatch.alerts.alert import Alert
from redwatch.alerts.rules import Trigger
from redwatch.findings import Severity

Key = tuple[str, str, str]


@dataclass
class _Window:
    """What happened to one key since its last alert."""

    sent_at: float
    suppressed: int = 0
    first_event_id: str = ""
    last: Trigger | None = None
    severity: Severity = Severity.INFO


class Deduper:
    """Turns triggers into alerts, holding back repeats of a key for `dedup_s` seconds."""

    def __init__(self, source: str, dedup_s: float) -> None:
        self.source = source
        self.dedup_s = dedup_s
        self._windows: dict[Key, _Window] = {}

    def offer(self, trigger: Trigger, now: float) -> Alert | None:
        """An alert for this trigger (with what was suppressed before it), or None when an
        alert of its key went out less than dedup_s ago."""
        severity = trigger.rule.severity or Severity.INFO
        key = (self.source, trigger.rule.kind, trigger.client)
        window = self._windows.get(key)
        if window is not None and now - window.sent_at < self.dedup_s:
            window.suppressed += trigger.count
            window.first_event_id = window.first_event_id or trigger.first_event_id
            window.last = trigger
            window.severity = max(window.severity, severity)
            return None
        count, first = trigger.count, trigger.first_event_id
        if window is not None and window.suppressed:
            count, first = count + window.suppressed, window.first_event_id
            severity = max(severity, window.severity)
        self._windows[key] = _Window(sent_at=now)
        return self._alert(key, trigger, count, first, severity, now)

    def due(self, now: float) -> list[Alert]:
        """Summary alerts of windows that closed with suppressed triggers; quiet closed
        windows are forgotten."""
        alerts = []
        for key, window in list(self._windows.items()):
            if now - window.sent_at < self.dedup_s:
                continue
            if window.suppressed and window.last is not None:
                alerts.append(self._summary(key, window, now))
                self._windows[key] = _Window(sent_at=now)
            else:
                del self._windows[key]
        return alerts

    def flush(self, now: float) -> list[Alert]:
        """Summary alerts of every window holding suppressed triggers (at shutdown)."""
        alerts = [
            self._summary(key, window, now)
            for key, window in self._windows.items()
            if window.suppressed and window.last is not None
        ]
        self._windows.clear()
        return alerts

    def _summary(self, key: Key, window: _Window, now: float) -> Alert:
        """One alert for a window's suppressed triggers."""
        assert window.last is not None
        return self._alert(
            key, window.last, window.suppressed, window.first_event_id, window.severity, now
        )

    @staticmethod
    def _alert(
        key: Key, trigger: Trigger, count: int, first: str, severity: Severity, now: float
    ) -> Alert:
        """The alert for a key."""
        source, kind, client = key
        noun = "event" if count == 1 else "events"
        return Alert(
            severity=severity,
            title=f"{kind} from {client} ({count} {noun})",
            source=source,
            kind=kind,
            client=client,
            count=count,
            first_event_id=first,
            last_event_id=trigger.last_event_id,
            detail=f"{trigger.stage}: {trigger.detail}",
            time=now,
        )
