"""Rule additions for the service: `max_per_hour` rate limiting and the file-wide
`min_severity`, both optional so that existing alerting files keep their meaning."""

from __future__ import annotations

import pytest

from redwatch.alerts import Rule, parse_alert_config, parse_rules
from redwatch.alerts.rules import RateLimiter
from redwatch.exceptions import UsageError
from redwatch.findings import Severity


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
