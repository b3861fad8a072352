"""Alerts: rules (severity, bursts, never), de-duplication with suppressed counts, the log
sink, the Alerter thread, strict YAML configuration, and conformance of every sink."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch import registry
from redwatch.alerts import (
    BUILTIN_SINKS,
    Alert,
    Alerter,
    AlertSink,
    LogSink,
    Rule,
    RuleSet,
    SinkOptions,
    load_alert_config,
    parse_alert_config,
)
from redwatch.alerts.sinks import GROUP
from redwatch.exceptions import UsageError
from redwatch.findings import Severity
from redwatch.guard import GuardBlocked, GuardedModel, parse_policy
from redwatch.guard.stage import Action, GuardEvent

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "guard.alerts.yml"
T0 = 1_750_000_000.0


class ListSink(AlertSink):
    """Test sink keeping what it was sent."""

    name = "list"
    description = "keeps alerts in a list"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


class BrokenSink(AlertSink):
    """Test sink that always fails."""

    name = "broken"
    description = "raises"

    def send(self, alert: Alert) -> None:
        raise ConnectionError("webhook unreachable")


def wine_model() -> Any:
    """A real, seeded model on the wine data."""
    data = load_wine()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=0))
    return model.fit(data.data, data.target)


def event(kind: str, at: float, client: str = "ip:198.51.100.4", n: int = 0) -> GuardEvent:
    """An event of `kind` at T0 + at seconds."""
    return GuardEvent("auth", kind, Action.BLOCK, f"{kind} #{n}", client, {"n": n}, T0 + at)


def alerter(sink: AlertSink, **options: Any) -> Alerter:
    """A synchronous alerter whose clock the test sets through process(now=...)."""
    return Alerter(sinks=[sink], source="proxy", clock=lambda: T0, **options)


def test_default_rules_severity_and_silence() -> None:
    sink = ListSink()
    alerts = alerter(sink).process(
        [
            event("intrusion", 0),
            event("extraction", 1),
            event("anomaly", 2),
            event("watermark", 3),
            event("invalid_input", 4),
            event("rate_limited", 5),
        ],
        now=T0,
    )
    assert [(a.kind, a.severity) for a in alerts] == [
        ("intrusion", Severity.HIGH),
        ("extraction", Severity.HIGH),
        ("anomaly", Severity.MEDIUM),
    ]
    assert sink.alerts == alerts
    first = alerts[0].to_dict()
    assert set(first) == {
        "id",
        "time",
        "severity",
        "title",
        "source",
        "kind",
        "client",
        "count",
        "first_event_id",
        "last_event_id",
        "detail",
    }
    assert first["severity"] == "high"
    assert first["source"] == "proxy"
    assert first["client"] == "ip:198.51.100.4"
    assert first["count"] == 1
    assert first["title"] == "intrusion from ip:198.51.100.4 (1 event)"
    assert first["detail"] == "auth: intrusion #0"


def test_rate_limiting_alerts_only_in_bursts() -> None:
    sink = ListSink()
    alerts_of = alerter(sink, dedup_s=0)
    slow = [event("rate_limited", 2.0 * i, n=i) for i in range(60)]  # 30 per minute
    assert alerts_of.process(slow, now=T0) == []
    burst = [event("rate_limited", 1000 + 0.5 * i, n=i) for i in range(50)]  # 50 in 25 s
    (alert,) = alerts_of.process(burst, now=T0)
    assert (alert.kind, alert.severity, alert.count) == ("rate_limited", Severity.MEDIUM, 50)
    assert (alert.first_event_id, alert.last_event_id) == (burst[0].id, burst[-1].id)


def test_duplicates_are_suppressed_and_counted_into_the_next_alert() -> None:
    sink = ListSink()
    alerts_of = alerter(sink, dedup_s=300)
    first = [event("intrusion", i, n=i) for i in range(10)]
    (alert,) = alerts_of.process(first, now=T0)
    assert (alert.count, alert.first_event_id) == (1, first[0].id)
    assert alerts_of.process([event("intrusion", 100)], now=T0 + 100) == []
    late = event("intrusion", 400, n=99)
    (next_alert,) = alerts_of.process([late], now=T0 + 400)
    assert next_alert.count == 11  # 9 + 1 suppressed, and this one
    assert (next_alert.first_event_id, next_alert.last_event_id) == (first[1].id, late.id)
    assert next_alert.title == "intrusion from ip:198.51.100.4 (11 events)"


def test_a_closed_window_sends_its_suppressed_count_without_new_events() -> None:
    sink = ListSink()
    alerts_of = alerter(sink, dedup_s=60)
    events = [event("anomaly", i, n=i) for i in range(5)]
    assert len(alerts_of.process(events, now=T0)) == 1
    assert alerts_of.process([], now=T0 + 59) == []
    (summary,) = alerts_of.process([], now=T0 + 61)
    assert (summary.count, summary.first_event_id, summary.last_event_id) == (
        4,
        events[1].id,
        events[4].id,
    )
    assert alerts_of.process([], now=T0 + 200) == []  # nothing more to say


def test_keys_are_source_kind_and_client() -> None:
    sink = ListSink()
    alerts_of = alerter(sink)
    alerts = alerts_of.process(
        [
            event("intrusion", 0, client="ip:a"),
            event("intrusion", 1, client="ip:b"),
            event("extraction", 2, client="ip:a"),
            event("intrusion", 3, client="ip:a"),
        ],
        now=T0,
    )
    assert [(a.kind, a.client) for a in alerts] == [
        ("intrusion", "ip:a"),
        ("intrusion", "ip:b"),
        ("extraction", "ip:a"),
    ]
    (flushed,) = alerts_of.flush(now=T0 + 1)
    assert (flushed.kind, flushed.client, flushed.count) == ("intrusion", "ip:a", 1)


def test_a_failing_sink_does_not_stop_the_others() -> None:
    sink = ListSink()
    alerts_of = Alerter(sinks=[BrokenSink(), sink], clock=lambda: T0)
    alerts_of.process([event("intrusion", 0), event("anomaly", 1)])
    assert len(sink.alerts) == 2
    assert alerts_of.sink_failures == 2
    assert alerts_of.sent == 2


def test_alerter_thread_with_a_log_file_and_a_real_guard(tmp_path: Path) -> None:
    path = tmp_path / "alerts" / "alerts.jsonl"
    policy = parse_policy({"stages": [{"name": "auth", "options": {"intrusion_failures": 3}}]}, "t")
    clients = ["ip:203.0.113.9", "ip:203.0.113.10"]
    with Alerter(sinks=[LogSink(path)], source="model", dedup_s=300) as alerts_of:
        guarded = GuardedModel(wine_model(), policy, sink=alerts_of)
        for client in clients:
            for _ in range(4):  # the third failure is an intrusion (one per window)
                with pytest.raises(GuardBlocked):
                    guarded.predict([[13.0] * 13], client=client, key="wrong.key")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(d["kind"], d["severity"], d["client"], d["count"]) for d in lines] == [
        ("intrusion", "high", client, 1) for client in clients
    ]
    assert all(d["source"] == "model" for d in lines)
    assert all(d["detail"].startswith("auth: ") for d in lines)


def test_log_sink_without_a_file_logs_by_severity(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="redwatch.alerts")
    alerts_of = Alerter(clock=lambda: T0)
    alerts_of.process([event("intrusion", 0), event("anomaly", 1)])
    records = [r for r in caplog.records if r.name == "redwatch.alerts"]
    assert [r.levelno for r in records] == [logging.ERROR, logging.WARNING]
    assert json.loads(records[0].getMessage())["kind"] == "intrusion"


def test_the_call_never_raises_and_a_full_queue_drops(caplog: pytest.LogCaptureFixture) -> None:
    alerts_of = Alerter(sinks=[ListSink()], max_queued=3)
    alerts_of(None)  # type: ignore[arg-type]
    alerts_of([event("watermark", 0)] * 10)  # never alerts: not even queued
    alerts_of([event("intrusion", i) for i in range(5)])
    assert alerts_of.dropped == 2
    alerts_of.close()
    assert alerts_of.sent == 2  # the first alert, then the two suppressed at close


def test_yaml_configuration_merges_rules_over_the_defaults(tmp_path: Path) -> None:
    config_path = tmp_path / "alerts.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "dedup_s": 60,
                "rules": [
                    {"kind": "anomaly", "severity": "high"},
                    {"kind": "intrusion", "severity": "never"},
                    {"kind": "spec_violation", "severity": "low", "burst": 3, "window_s": 10},
                ],
                "sinks": [{"name": "log", "options": {"path": "out/alerts.jsonl"}}],
            }
        )
    )
    config = load_alert_config(config_path)
    assert config.dedup_s == 60
    assert config.rules.rule("anomaly") == Rule("anomaly", Severity.HIGH)
    assert config.rules.rule("intrusion") is None
    assert config.rules.rule("extraction") == Rule("extraction", Severity.HIGH)
    assert config.rules.rule("spec_violation") == Rule("spec_violation", Severity.LOW, 3, 10.0)
    (sink,) = config.sinks
    assert isinstance(sink, LogSink)
    assert sink.path == tmp_path / "out" / "alerts.jsonl"
    alone = parse_alert_config({"defaults": False, "rules": []}, "x.yaml")
    assert alone.rules.rule("intrusion") is None
    assert isinstance(alone.alerter("svc"), Alerter)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rule": []}, "x.yaml: rule: Extra inputs are not permitted"),
        ({"rules": [{"kind": "a", "severity": "urgent"}]}, "x.yaml: rules.0.severity: unknown"),
        ({"rules": [{"kind": "a", "severity": "low", "burst": 0}]}, "x.yaml: rules.0.burst:"),
        ({"rules": [{"kind": "a", "severity": "low", "extra": 1}]}, "x.yaml: rules.0.extra:"),
        (
            {"rules": [{"kind": "a", "severity": "low"}, {"kind": "a", "severity": "high"}]},
            "x.yaml: rules.1.kind: 'a' has two rules",
        ),
        ({"sinks": [{"name": "pager"}]}, "x.yaml: sinks.0.name: unknown sink 'pager'; known: log"),
        ({"sinks": [{"name": "log", "options": {"file": "a"}}]}, "x.yaml: sink log: file:"),
        ({"dedup_s": -1}, "x.yaml: dedup_s:"),
        ([1, 2], "x.yaml: expected a mapping"),
    ],
)
def test_bad_configuration_is_one_line(raw: Any, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_alert_config(raw, "x.yaml")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_the_docs_example_configuration_loads() -> None:
    config = load_alert_config(EXAMPLE)
    assert config.sinks
    assert config.rules.rule("intrusion") is not None


def test_rule_set_from_rules() -> None:
    rules = RuleSet([Rule("intrusion", Severity.CRITICAL)])
    assert rules.watches("intrusion")
    assert not rules.watches("anomaly")
    assert RuleSet().watches("anomaly")
    assert not RuleSet().watches("watermark")


# -- conformance of every alert sink ---------------------------------------------------------


def _sinks() -> list[Any]:
    return [pytest.param(cls, id=name) for name, cls in BUILTIN_SINKS.items()]


@pytest.mark.parametrize("cls", _sinks())
def test_sink_declaration(cls: type[AlertSink]) -> None:
    assert BUILTIN_SINKS[cls.name] is cls
    assert cls.description.strip()
    assert "\n" not in cls.description
    assert issubclass(cls.options_model, SinkOptions)
    assert cls.send is not AlertSink.send
    assert cls.build is not AlertSink.build


@pytest.mark.parametrize("cls", _sinks())
def test_sink_refuses_unknown_options_in_one_line(cls: type[AlertSink]) -> None:
    with pytest.raises(UsageError) as caught:
        cls.from_options({"no_such_option": 1}, where="alerts.yaml")
    assert str(caught.value).startswith(f"alerts.yaml: sink {cls.name}: no_such_option:")


def _needs_options(cls: type[AlertSink]) -> bool:
    return any(f.is_required() for f in cls.options_model.model_fields.values())


@pytest.mark.parametrize(
    "cls", [p for p in _sinks() if _needs_options(p.values[0])] or [pytest.param(None)]
)
def test_sink_with_required_options_refuses_none_in_one_line(cls: type[AlertSink]) -> None:
    assert cls is not None, "every sink has defaults: this test has nothing to check"
    with pytest.raises(UsageError) as caught:
        cls.from_options({}, where="alerts.yaml")
    assert str(caught.value).startswith(f"alerts.yaml: sink {cls.name}: ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("cls", [p for p in _sinks() if not _needs_options(p.values[0])])
def test_sink_built_from_defaults_sends(cls: type[AlertSink], tmp_path: Path) -> None:
    sink = cls.from_options({}, base_dir=tmp_path)
    alert = Alert(
        Severity.HIGH,
        "intrusion from ip:x (1 event)",
        "proxy",
        "intrusion",
        "ip:x",
        1,
        "a",
        "a",
        "auth: d",
    )
    sink.send(alert)


def test_registered_alert_sinks_are_the_builtin_table() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = project["project"].get("entry-points", {}).get(GROUP, {})
    expected = {name: f"{cls.__module__}:{cls.__qualname__}" for name, cls in BUILTIN_SINKS.items()}
    assert declared == expected, f"pyproject.toml [project.entry-points.{GROUP!r}]"
    assert registry.plugins(GROUP) == BUILTIN_SINKS
