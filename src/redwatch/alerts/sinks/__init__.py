"""Alert sinks: the AlertSink contract, the built-in sinks, and lookup by name through the
`redwatch.alert_sinks` entry points (built-ins register there like third-party sinks)."""

from __future__ import annotations

from redwatch import registry
from redwatch.alerts.sinks.base import AlertSink, SinkOptions
from redwatch.alerts.sinks.log import LogSink
from redwatch.alerts.sinks.slack import SlackSink
from redwatch.alerts.sinks.smtp import SmtpSink
from redwatch.alerts.sinks.webhook import WebhookSink

GROUP = "redwatch.alert_sinks"

# What the entry points of this package register (a test checks that they agree).
BUILTIN_SINKS: dict[str, type[AlertSink]] = {
    "log": LogSink,
    "webhook": WebhookSink,
    "slack": SlackSink,
    "smtp": SmtpSink,
}


def available_sinks() -> dict[str, type[AlertSink]]:
    """Every alert sink by name: the built-ins and whatever the entry points add."""
    return {**BUILTIN_SINKS, **registry.plugins(GROUP)}


__all__ = ["BUILTIN_SINKS", "GROUP", "AlertSink", "LogSink", "SinkOptions", "available_sinks"]
