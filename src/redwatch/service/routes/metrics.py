"""/api/v1/metrics: Prometheus text for the service, read from the store at scrape time
(registered targets, jobs and incidents by status, alerts by severity, events by kind), so
every replica behind one database reports the same numbers. Needs a viewer key (a scraper
sends it as a bearer token)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from redwatch.findings import Severity
from redwatch.service.auth import Viewer
from redwatch.service.state import State
from redwatch.store.models import EventRow
from redwatch.store.repository import Store
from redwatch.store.service_models import AlertRow, IncidentRow, JobRow, RegistrationRow

router = APIRouter(tags=["metrics"])


class StoreCollector:
    """A Prometheus collector counting the service's rows by status at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge family per table, labelled by its status column."""
        with self.store.transaction("read the service metrics") as session:
            yield _gauge(session, "targets", "Registered targets", None, RegistrationRow.name)
            yield _gauge(session, "jobs", "Campaign jobs by status", "status", JobRow.status)
            yield _gauge(session, "incidents", "Incidents by status", "status", IncidentRow.status)
            yield _gauge(session, "events", "Stored events by kind", "kind", EventRow.kind)
            alerts = GaugeMetricFamily(
                "redwatch_service_alerts", "Alerts raised, by severity", labels=["severity"]
            )
            query = select(AlertRow.severity, func.count()).group_by(AlertRow.severity)
            for level, count in session.execute(query).all():
                alerts.add_metric([Severity(int(level)).label], float(count))
            yield alerts


def _gauge(session: Any, name: str, text: str, label: str | None, column: Any) -> Any:
    """Row counts of one table, grouped by `column` when `label` names it."""
    family = GaugeMetricFamily(f"redwatch_service_{name}", text, labels=[label] if label else None)
    if label is None:
        family.add_metric([], float(session.scalar(select(func.count(column))) or 0))
        return family
    for value, count in session.execute(select(column, func.count()).group_by(column)).all():
        family.add_metric([str(value)], float(count))
    return family


@router.get("/metrics", response_class=Response)
def metrics(who: Viewer, state: State) -> Response:
    """The service's gauges in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(state.store))  # type: ignore[arg-type]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
