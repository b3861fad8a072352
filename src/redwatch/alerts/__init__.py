"""Alerts: rules decide which guard events a human must see, de-duplication keeps one alert
per source, kind and client per window, and sinks deliver them (see docs/guard-events.md).
Only this package sends alerts; stages and the store never do."""

from __future__ import annotations

from redwatch.alerts.alert import Alert
from redwatch.alerts.config import AlertConfig, load_alert_config, parse_alert_config
from redwatch.alerts.dispatch import Alerter
from redwatch.alerts.rules import DEFAULT_RULES, Rule, RuleSet, parse_rules
from redwatch.alerts.sinks import BUILTIN_SINKS, AlertSink, LogSink, SinkOptions

__all__ = [
    "BUILTIN_SINKS",
    "DEFAULT_RULES",
    "Alert",
    "AlertConfig",
    "AlertSink",
    "Alerter",
    "LogSink",
    "Rule",
    "RuleSet",
    "SinkOptions",
    "load_alert_config",
    "parse_alert_config",
    "parse_rules",
]
