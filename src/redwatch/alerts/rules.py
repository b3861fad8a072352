"""Which guard events raise alerts, at what severity, and after how many (bursts).

A rule names an event kind, a severity (or `never`), and optionally a burst: `burst` events
of that kind from one client within `window_s` seconds of event time make one alert. The
defaults: intrusion and extraction high, anomaly medium, rate limiting and failed
authentication only in bursts, watermark records never. Kinds without a rule never alert.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from redwatch.config import first_error
from redwatch.exceptions import UsageError
from redwatch.findings import Severity

NEVER = "never"
DEFAULT_MAX_TRACKED = 10_000


class Event(Protocol):
    """What alerting reads of an event (redwatch.guard.Event has it; alerts sit below
    the guard in the import order, so they name the shape, not the class)."""

    @property
    def id(self) -> str:
        """Unique event id."""

    @property
    def kind(self) -> str:
        """Event kind, e.g. intrusion."""

    @property
    def stage(self) -> str:
        """Stage that emitted it."""

    @property
    def client(self) -> str:
        """Client the event is about."""

    @property
    def detail(self) -> str:
        """One-line description."""

    @property
    def timestamp(self) -> float:
        """Event time, epoch seconds."""


@dataclass(frozen=True)
class Rule:
    """Events of `kind` alert at `severity` (None: never), once `burst` of them came from one
    client within `window_s` seconds; `max_per_hour` (None: no limit) caps the alerts of the
    rule per key in any hour (see RateLimiter)."""

    kind: str
    severity: Severity | None
    burst: int = 1
    window_s: float = 60.0
    max_per_hour: int | None = None


DEFAULT_RULES = (
    Rule("intrusion", Severity.HIGH),
    Rule("extraction", Severity.HIGH),
    Rule("anomaly", Severity.MEDIUM),
    Rule("rate_limited", Severity.MEDIUM, burst=50, window_s=60.0),
    Rule("auth_failed", Severity.MEDIUM, burst=20, window_s=60.0),
    Rule("watermark", None),
)


class RuleDecl(BaseModel):
    """One rule as written in YAML; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1, max_length=64)
    severity: str
    burst: int = Field(default=1, ge=1, le=1_000_000)
    window_s: float = Field(default=60.0, gt=0, le=86_400, allow_inf_nan=False)
    max_per_hour: int | None = Field(default=None, ge=1, le=1_000_000)

    @field_validator("severity")
    @classmethod
    def _known(cls, value: str) -> str:
        """A severity name or `never`, lower-case."""
        text = value.strip().lower()
        if text != NEVER:
            try:
                Severity.parse(text)
            except UsageError as exc:
                raise ValueError(f"{exc}, or never") from None
        return text

    def rule(self) -> Rule:
        """The rule this declaration describes."""
        severity = None if self.severity == NEVER else Severity.parse(self.severity)
        return Rule(self.kind, severity, self.burst, self.window_s, self.max_per_hour)


def parse_rules(raw: Any, where: str) -> list[Rule]:
    """Validate a YAML list of rules; UsageError naming `where` and the field otherwise,
    also for two rules of one kind."""
    try:
        decls = TypeAdapter(list[RuleDecl]).validate_python(raw)
    except ValidationError as exc:
        raise UsageError(f"{where}: rules.{first_error(exc)}") from None
    seen: set[str] = set()
    for index, decl in enumerate(decls):
        if decl.kind in seen:
            raise UsageError(f"{where}: rules.{index}.kind: {decl.kind!r} has two rules")
        seen.add(decl.kind)
    return [decl.rule() for decl in decls]


class RuleSet:
    """Rules by event kind."""

    def __init__(self, rules: Iterable[Rule] = DEFAULT_RULES) -> None:
        self.rules = {rule.kind: rule for rule in rules}

    def merged(self, overrides: Iterable[Rule]) -> RuleSet:
        """These rules with `overrides` replacing those of the same kind."""
        return RuleSet([*self.rules.values(), *overrides])

    def watches(self, kind: str) -> bool:
        """True when events of `kind` can raise an alert (cheap: the serving thread asks)."""
        rule = self.rules.get(kind)
        return rule is not None and rule.severity is not None

    def rule(self, kind: str) -> Rule | None:
        """The alerting rule of `kind`, None when that kind never alerts."""
        rule = self.rules.get(kind)
        return rule if rule is not None and rule.severity is not None else None


@dataclass(frozen=True)
class Trigger:
    """A rule fired: on `count` events of one kind from one client, the first and last of
    them named, with the last one's stage, detail and time."""

    rule: Rule
    client: str
    count: int
    first_event_id: str
    last_event_id: str
    stage: str
    detail: str
    time: float


class BurstTracker:
    """Applies a RuleSet to events one by one. A burst rule keeps, per (kind, client), the
    events of its window; reaching `burst` fires and starts a new window. At most
    `max_tracked` (kind, client) windows are kept (least recently used forgotten)."""

    def __init__(self, rules: RuleSet, max_tracked: int = DEFAULT_MAX_TRACKED) -> None:
        self.rules = rules
        self.max_tracked = max_tracked
        self._windows: OrderedDict[tuple[str, str], deque[tuple[float, str]]] = OrderedDict()

    def offer(self, event: Event) -> Trigger | None:
        """The trigger this event completes, if any."""
        rule = self.rules.rule(event.kind)
        if rule is None:
            return None
        if rule.burst <= 1:
            return self._trigger(rule, event, 1, event.id)
        window = self._window((event.kind, event.client))
        window.append((event.timestamp, event.id))
        while window and window[0][0] < event.timestamp - rule.window_s:
            window.popleft()
        if len(window) < rule.burst:
            return None
        count, first = len(window), window[0][1]
        window.clear()
        return self._trigger(rule, event, count, first)

    def _window(self, key: tuple[str, str]) -> deque[tuple[float, str]]:
        """The (time, id) window of a kind and client, created on first use."""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
            while len(self._windows) > self.max_tracked:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
        return window

    @staticmethod
    def _trigger(rule: Rule, event: Event, count: int, first: str) -> Trigger:
        """A trigger ending at `event`."""
        return Trigger(
            rule, event.client, count, first, event.id, event.stage, event.detail, event.timestamp
        )


class RateLimiter:
    """Rate limiting: at most `rule.max_per_hour` alerts of a rule per key (a target, a
    client) within any 3600 seconds; rules without a limit always pass."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], deque[float]] = {}

    def allow(self, rule: Rule, key: str, now: float) -> bool:
        """True (and counted) when one more alert of `rule` for `key` fits in the hour."""
        if rule.max_per_hour is None:
            return True
        sent = self._sent.setdefault((rule.kind, key), deque())
        while sent and sent[0] <= now - 3600.0:
            sent.popleft()
        if len(sent) >= rule.max_per_hour:
            return False
        sent.append(now)
        return True
