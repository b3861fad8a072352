"""An alerting file (YAML): rules, de-duplication window and sinks, strictly validated.

    defaults: true        # start from the built-in rules; rules below replace same kinds
    dedup_s: 300
    min_severity: low     # optional: alerts below this severity are never raised
    rules:
      - {kind: anomaly, severity: high}
      - {kind: rate_limited, severity: low, burst: 100, window_s: 60}
    sinks:
      - name: log
        options: {path: alerts.jsonl}

Every problem is one UsageError line naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from redwatch.alerts.dispatch import Alerter
from redwatch.alerts.rules import DEFAULT_RULES, Rule, RuleSet, parse_rules
from redwatch.alerts.sinks import AlertSink, available_sinks
from redwatch.config import first_error, read_yaml
from redwatch.exceptions import UsageError
from redwatch.findings import Severity


class SinkDecl(BaseModel):
    """One sink: its registered name and its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class AlertFile(BaseModel):
    """The file's top level (rules are validated separately, for exact error paths)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: bool = True
    dedup_s: float = Field(default=300.0, ge=0, le=86_400 * 7, allow_inf_nan=False)
    min_severity: str | None = None
    rules: list[Any] = Field(default_factory=list)
    sinks: list[SinkDecl] = Field(default_factory=lambda: [SinkDecl(name="log")])


@dataclass(frozen=True)
class AlertConfig:
    """Validated alerting settings, ready to build an Alerter."""

    rules: RuleSet
    sinks: tuple[AlertSink, ...]
    dedup_s: float
    min_severity: Severity | None = None

    def alerter(self, source: str = "guard") -> Alerter:
        """An Alerter with these settings (not started); rules below min_severity dropped."""
        floor = self.min_severity
        rules = [
            rule
            for rule in self.rules.rules.values()
            if floor is None or rule.severity is None or rule.severity >= floor
        ]
        return Alerter(RuleSet(rules), self.sinks, self.dedup_s, source=source)


def parse_alert_config(
    raw: Any,
    where: str,
    base_dir: Path | None = None,
    *,
    default_rules: Iterable[Rule] = DEFAULT_RULES,
) -> AlertConfig:
    """Validate a mapping read from YAML; UsageError naming `where` and the field.
    `default_rules` are the rules that `defaults: true` starts from (the service's differ)."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a mapping, got {type(raw).__name__}")
    try:
        top = AlertFile.model_validate(raw)
    except ValidationError as exc:
        raise UsageError(f"{where}: {first_error(exc)}") from None
    rules = parse_rules(top.rules, where)
    floor = None
    if top.min_severity is not None:
        try:
            floor = Severity.parse(top.min_severity)
        except UsageError as exc:
            raise UsageError(f"{where}: min_severity: {exc}") from None
    base = RuleSet(default_rules if top.defaults else [])
    table = available_sinks()
    sinks = []
    for index, decl in enumerate(top.sinks):
        if decl.name not in table:
            known = ", ".join(sorted(table))
            raise UsageError(
                f"{where}: sinks.{index}.name: unknown sink {decl.name!r}; known: {known}"
            )
        sinks.append(table[decl.name].from_options(decl.options, where=where, base_dir=base_dir))
    return AlertConfig(base.merged(rules), tuple(sinks), top.dedup_s, floor)


def load_alert_config(
    path: Path | str, *, default_rules: Iterable[Rule] = DEFAULT_RULES
) -> AlertConfig:
    """Read and validate an alerting file; relative sink paths are taken from its folder."""
    target = Path(path)
    return parse_alert_config(
        read_yaml(target), str(target), target.resolve().parent, default_rules=default_rules
    )
