"""The `slack` alert sink: a Slack-compatible incoming-webhook message per alert (`text`
for notifications and clients without blocks, `blocks` for the formatted message). Works
with Slack and with the many chat tools that accept the same format (Mattermost, Rocket.Chat).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from redwatch.alerts.alert import Alert
from redwatch.alerts.sinks.base import SinkOptions
from redwatch.alerts.sinks.webhook import JsonPoster, PostOptions, RemoteSink
from redwatch.findings import Severity

EMOJI = {
    Severity.INFO: ":information_source:",
    Severity.LOW: ":large_blue_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.HIGH: ":red_circle:",
    Severity.CRITICAL: ":rotating_light:",
}


class SlackOptions(PostOptions):
    """`url`: the incoming-webhook URL; `channel` and `username` override its defaults."""

    channel: str | None = Field(default=None, max_length=80)
    username: str | None = Field(default=None, max_length=80)


def slack_message(alert: Alert) -> dict[str, Any]:
    """The message for one alert: a summary line and a section with the details."""
    head = f"{EMOJI[alert.severity]} [{alert.severity.label.upper()}] {alert.title}"
    fields = [
        ("Target", alert.source),
        ("Kind", alert.kind),
        ("Client", alert.client),
        ("Events", str(alert.count)),
    ]
    return {
        "text": head,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*"}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": alert.detail[:2000]}]},
        ],
    }


class SlackSink(RemoteSink):
    """One incoming-webhook POST per alert; raises DeliveryError when every try failed."""

    name: ClassVar[str] = "slack"
    description: ClassVar[str] = "Slack-compatible incoming-webhook message (text + blocks)."
    options_model: ClassVar[type[SinkOptions]] = SlackOptions

    def __init__(self, options: SlackOptions, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.sleep = sleep

    @classmethod
    def build(cls, options: SinkOptions, base_dir: Path) -> SlackSink:
        """A Slack sink for validated options."""
        assert isinstance(options, SlackOptions)
        return cls(options)

    def send(self, alert: Alert) -> None:
        """POST the message; DeliveryError after the last failed try."""
        message = slack_message(alert)
        if self.options.channel:
            message["channel"] = self.options.channel
        if self.options.username:
            message["username"] = self.options.username
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        JsonPoster(self.options, self.sleep).post(body, dict)
