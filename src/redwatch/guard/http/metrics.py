"""GuardMetrics: Prometheus metrics of one guard app in its own CollectorRegistry (so that
two apps in one process never share or clash): requests by path and status, guard overhead
and upstream time as separate histograms, events by stage/kind/action, breaker state."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from redwatch.guard.stage import GuardEvent

STATES = ("closed", "half-open", "open", "local")
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
CONTENT_TYPE = PROMETHEUS_TYPE

__all__ = ["CONTENT_TYPE", "GuardMetrics"]


class GuardMetrics:
    """The metrics of one app. `paths` are the routes worth their own label; any other path
    is counted as `other`, so that scanners cannot grow the label set without bound."""

    def __init__(self, paths: Iterable[str] = ("/predict", "/predict_proba")) -> None:
        self.paths = frozenset(paths)
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "redwatch_guard_requests",
            "HTTP requests answered, by path and status",
            ["path", "status"],
            registry=self.registry,
        )
        self.overhead = Histogram(
            "redwatch_guard_overhead_seconds",
            "Time spent in the guard itself (body, stages, serialising), by path",
            ["path"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.upstream = Histogram(
            "redwatch_guard_upstream_seconds",
            "Time spent waiting for the model (upstream, local model or wrapped app), by path",
            ["path"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "redwatch_guard_events",
            "Guard events, by stage, kind and action",
            ["stage", "kind", "action"],
            registry=self.registry,
        )
        self.breaker = Gauge(
            "redwatch_guard_upstream_state",
            "1 for the upstream circuit breaker's current state (local: no upstream)",
            ["state"],
            registry=self.registry,
        )

    def label(self, path: str) -> str:
        """The path label: the path itself when it is a known route, `other` otherwise."""
        return path if path in self.paths else "other"

    def observe(self, events: Iterable[GuardEvent]) -> None:
        """Count events by stage, kind and action."""
        for event in events:
            self.events.labels(event.stage, event.kind, event.action.value).inc()

    def request(
        self,
        path: str,
        status: int,
        overhead_s: float | None = None,
        upstream_s: float | None = None,
    ) -> None:
        """Record one answered request; the times are None when not measured (routes that
        are not guarded) or when no model was asked."""
        label = self.label(path)
        self.requests.labels(label, str(status)).inc()
        if overhead_s is not None:
            self.overhead.labels(label).observe(max(overhead_s, 0.0))
        if upstream_s is not None:
            self.upstream.labels(label).observe(upstream_s)

    def set_state(self, state: str) -> None:
        """Mark the upstream's breaker state (or `local`) as the current one."""
        for name in STATES:
            self.breaker.labels(name).set(1.0 if name == state else 0.0)

    def render(self) -> bytes:
        """The Prometheus text exposition of this app's registry."""
        return generate_latest(self.registry)
