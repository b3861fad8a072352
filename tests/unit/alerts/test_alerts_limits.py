"""Rule additions for the service: `max_per_hour` rate limiting (in the service's hub and the
guard's Alerter alike) and the file-wide `min_severity`, both optional so that existing
alerting files keep their meaning."""

from __future__ import annotations

import pytest

from redwatch.alerts import Alert, Alerter, AlertSink, Rule, parse_alert_config, parse_rules
from redwatch.alerts.rules import RateLimiter
from redwatch.exceptions import UsageError
from redwatch.findings import Severity
from redwatch.guard.stage import Action, GuardEvent

T0 = 1_750_000_000.0


def test_rate_limiter_allows_max_per_hour_per_key() -> None:
    limiter = RateLimiter()
    rule = Rule("drift", Severity.MEDIUM, max_per_hour=2)
    assert [limiter.allow(rule, "credit", t) for t in (0, 10, 20)] == [True, True, False]
    assert limiter.allow(rule, "other-target", 20)
    assert limiter.allow(rule, "credit", 3600.5)  # the first one left the hour
    assert all(limiter.allow(Rule("x", Severity.LOW), "k", 0) for _ in range(100))


def test_max_per_hour_and_min_severity_parse() -> None:
    raw = {
        "min_severity": "Medium",
        "rules": [{"kind": "drift", "severity": "low", "max_per_hour": 3}],
        "sinks": [{"name": "log"}],
    }
    config = parse_alert_config(raw, "alerts.yml")
    assert config.min_severity is Severity.MEDIUM
    assert config.rules.rule("drift") == Rule("drift", Severity.LOW, max_per_hour=3)
    alerter = config.alerter()
    assert alerter.rules.rule("drift") is None  # below min_severity: the guard never alerts
    assert alerter.rules.rule("intrusion") is not None
    assert parse_alert_config({}, "a.yml").min_severity is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"min_severity": "urgent"}, "a.yml: min_severity: unknown severity 'urgent'"),
        ({"rules": [{"kind": "x", "severity": "low", "max_per_hour": 0}]}, "max_per_hour"),
    ],
)
def test_bad_limits_are_one_line_errors(raw: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_alert_config(raw, "a.yml")


def test_rules_without_limits_are_unchanged() -> None:
    assert parse_rules([{"kind": "a", "severity": "high"}], "f") == [Rule("a", Severity.HIGH)]


class _Kept(AlertSink):
    """Test sink keeping what it was sent."""

    name = "kept"
    description = "keeps alerts in a list"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def _intrusion(client: str, at: float) -> GuardEvent:
    """An intrusion block from `client` at T0 + at seconds."""
    return GuardEvent("input", "intrusion", Action.BLOCK, "blocked", client, {}, T0 + at)


def test_the_guard_alerter_caps_alerts_per_hour_after_deduplication() -> None:
    sink = _Kept()
    rules = [Rule("intrusion", Severity.HIGH, max_per_hour=2)]
    alerts_of = Alerter(rules, [sink], dedup_s=300, source="proxy", clock=lambda: T0)
    burst = [_intrusion("ip:a", i) for i in range(5)] + [_intrusion("ip:b", 5)]
    sent = alerts_of.process(burst, now=T0 + 5)
    assert [a.client for a in sent] == ["ip:a", "ip:b"]  # duplicates do not use up the cap
    assert alerts_of.process([_intrusion("ip:c", 60)], now=T0 + 60) == []
    assert alerts_of.rate_limited == 1
    later = alerts_of.process([_intrusion("ip:d", 3606)], now=T0 + 3606)
    assert [(a.client, a.count) for a in later] == [("ip:d", 1), ("ip:a", 4)]
    assert [a.client for a in sink.alerts] == ["ip:a", "ip:b", "ip:d", "ip:a"]
    assert alerts_of.sent == 4
