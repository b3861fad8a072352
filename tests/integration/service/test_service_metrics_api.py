"""/api/v1/metrics: Prometheus text with the service's rows counted by status, for a viewer."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from service_harness import Harness

from redwatch.guard.stage import Action, GuardEvent


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_events_alerts_and_targets(service: Harness) -> None:
    assert service.state.events is not None
    event = GuardEvent("monitor", "drift", Action.ALLOW, "balance drifted", "monitor", {})
    assert service.state.events.publish([event], source="credit") == 1
    assert service.state.alerts is not None
    service.state.alerts.flush(10.0)
    answer = service.get("/api/v1/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    assert samples[("redwatch_service_events", (("kind", "drift"),))] == 1.0
    assert samples[("redwatch_service_targets", ())] == 0.0
    assert samples[("redwatch_service_alerts", (("severity", "medium"),))] == 1.0
