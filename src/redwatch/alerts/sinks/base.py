"""The alert sink contract: a declaration (name, description, options model) plus one
method, `send(alert)`. Sinks register under the `redwatch.alert_sinks` entry points."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from redwatch.alerts.alert import Alert
from redwatch.config import first_error
from redwatch.exceptions import UsageError


class SinkOptions(BaseModel):
    """Base of every sink's options: strict (unknown keys are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertSink:
    """Where alerts go. Subclasses set `name`, `description` and `options_model`, build
    themselves from validated options in `build`, and deliver one alert in `send` (raising
    on failure: the Alerter logs it and carries on with the other sinks)."""

    name: ClassVar[str]
    description: ClassVar[str]
    options_model: ClassVar[type[SinkOptions]] = SinkOptions

    @classmethod
    def from_options(
        cls, raw: Mapping[str, Any] | None, *, where: str = "alerts", base_dir: Path | None = None
    ) -> AlertSink:
        """Validate `raw` against the options model and build the sink; relative paths in
        the options are taken from `base_dir` (the configuration file's folder)."""
        try:
            options = cls.options_model.model_validate(dict(raw or {}))
        except ValidationError as exc:
            raise UsageError(f"{where}: sink {cls.name}: {first_error(exc)}") from None
        return cls.build(options, base_dir or Path.cwd())

    @classmethod
    def build(cls, options: SinkOptions, base_dir: Path) -> AlertSink:
        """The sink for validated options (each sink says how)."""
        raise NotImplementedError(f"alert sink {cls.name} does not implement build")

    def send(self, alert: Alert) -> None:
        """Deliver one alert."""
        raise NotImplementedError(f"alert sink {self.name} does not implement send")
