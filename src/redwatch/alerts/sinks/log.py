"""The `log` alert sink: one JSON line per alert, appended to a file or, without a file,
logged to the `redwatch.alerts` logger at a level that follows the severity."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import ClassVar

from redwatch.alerts.alert import Alert
from redwatch.alerts.sinks.base import AlertSink, SinkOptions
from redwatch.findings import Severity

log = logging.getLogger("redwatch.alerts")

LEVELS = {
    Severity.INFO: logging.INFO,
    Severity.LOW: logging.INFO,
    Severity.MEDIUM: logging.WARNING,
    Severity.HIGH: logging.ERROR,
    Severity.CRITICAL: logging.CRITICAL,
}


class LogSinkOptions(SinkOptions):
    """`path`: the JSON-lines file (relative to the configuration file); none: the logger."""

    path: Path | None = None


class LogSink(AlertSink):
    """One JSON line per alert, to a file (appended, flushed per alert) or the logger."""

    name: ClassVar[str] = "log"
    description: ClassVar[str] = (
        "One JSON line per alert, appended to a file or logged to the redwatch.alerts logger."
    )
    options_model: ClassVar[type[SinkOptions]] = LogSinkOptions

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    @classmethod
    def build(cls, options: SinkOptions, base_dir: Path) -> LogSink:
        """A log sink whose relative path is taken from `base_dir`."""
        assert isinstance(options, LogSinkOptions)
        path = options.path
        return cls(None if path is None else base_dir / path.expanduser())

    def send(self, alert: Alert) -> None:
        """Write the alert's JSON line."""
        line = json.dumps(alert.to_dict(), ensure_ascii=False)
        if self.path is None:
            log.log(LEVELS[alert.severity], "%s", line)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
