"""Read-only store queries behind the dashboard pages: each returns plain dictionaries the
templates and chart builders use, so no database object ever reaches a template."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from redwatch.findings import Severity
from redwatch.incidents.repo import alert_document, incident_fields, read_incident
from redwatch.reports.document import curves_of
from redwatch.store import views
from redwatch.store.models import CampaignRow, FindingRow, TargetRow
from redwatch.store.repository import Store
from redwatch.store.service_models import (
    AlertRow,
    IncidentRow,
    MonitorPointRow,
    PolicyRow,
    RegistrationRow,
)

SEVERITIES: tuple[str, ...] = tuple(s.label for s in sorted(Severity, reverse=True))
MAX_EVENTS = 2000
MAX_POINTS = 5000
# The alert fields the pages show (the API's alert document without the sink details).
ALERT_SUMMARY_KEYS = (
    "id",
    "time",
    "severity",
    "title",
    "kind",
    "target",
    "cause",
    "count",
    "incident_id",
)


def targets(store: Store) -> list[dict[str, Any]]:
    """Registered targets and targets known from campaigns, each with its last campaign."""
    with store.transaction("list targets for the dashboard") as session:
        registered = {r.name: r for r in session.scalars(select(RegistrationRow))}
        seen = set(session.scalars(select(TargetRow.name)))
    last = {c["target"]: c for c in reversed(store.list_campaigns(limit=500))}
    out = []
    for name in sorted(set(registered) | seen):
        row = registered.get(name)
        out.append(
            {
                "name": name,
                "registered": row is not None,
                "schedule": _schedule(row),
                "model_version": row.model_version if row else None,
                "last": last.get(name),
            }
        )
    return out


def _schedule(row: RegistrationRow | None) -> str:
    """Human text of a registration's schedule."""
    if row is None:
        return "not registered"
    if row.paused:
        return "paused"
    if row.cron:
        return f"cron {row.cron}"
    if row.interval_s:
        return f"every {row.interval_s:g} s"
    return "on demand"


def open_counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    """Finding counts per severity label, every label present, most severe first."""
    counts = views.empty_counts()
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    return counts


def completed_campaigns(store: Store, target: str | None = None) -> list[dict[str, Any]]:
    """Completed campaigns, oldest first (the x axis of trend charts)."""
    rows = store.list_campaigns(target=target, limit=200)
    return [c for c in reversed(rows) if c["status"] == "completed"]


def incidents(store: Store, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Incidents, newest first, optionally only those with `status`."""
    with store.transaction("list incidents for the dashboard") as session:
        query = select(IncidentRow)
        if status is not None:
            query = query.where(IncidentRow.status == status)
        query = query.order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc()).limit(limit)
        return [incident_summary(row) for row in session.scalars(query)]


def open_incidents(store: Store) -> list[dict[str, Any]]:
    """Incidents not closed yet (open or mitigated), newest first."""
    return [i for i in incidents(store) if i["status"] != "closed"]


def incident_summary(row: IncidentRow) -> dict[str, Any]:
    """One incident as the pages show it."""
    return {**incident_fields(row), "data": row.data}


def incident(store: Store, incident_id: int) -> dict[str, Any] | None:
    """An incident with its timeline (oldest first) and alerts, or None."""
    with store.transaction(f"read incident {incident_id}") as session:
        found = read_incident(session, incident_id)
    if found is None:
        return None
    alerts = [{key: a[key] for key in ALERT_SUMMARY_KEYS} for a in found["alerts"]]
    return {**found, "alerts": alerts}


def alerts(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    """The most recent alerts, newest first."""
    with store.transaction("list recent alerts") as session:
        query = select(AlertRow).order_by(AlertRow.time.desc(), AlertRow.id).limit(limit)
        return [alert_summary(row) for row in session.scalars(query)]


def alert_summary(row: AlertRow) -> dict[str, Any]:
    """One alert as the pages show it: the API's document without the sink details."""
    document = alert_document(row)
    return {key: document[key] for key in ALERT_SUMMARY_KEYS}


def findings(store: Store, severity: Severity | None = None) -> list[dict[str, Any]]:
    """Open findings (each target's latest completed campaign), most severe first, each
    with its row id for the finding page."""
    docs = store.list_findings(severity_at_least=severity)
    ids = _finding_ids(store, [(d["campaign_id"], d["fingerprint"]) for d in docs])
    return [{**d, "row_id": ids.get((d["campaign_id"], d["fingerprint"]))} for d in docs]


def _finding_ids(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Row id of each (campaign id, fingerprint)."""
    campaigns = {c for c, _ in keys}
    if not campaigns:
        return {}
    with store.transaction("read finding ids") as session:
        rows = session.execute(
            select(FindingRow.campaign_id, FindingRow.fingerprint, FindingRow.id).where(
                FindingRow.campaign_id.in_(campaigns)
            )
        )
        return {(c, f): i for c, f, i in rows}


def finding(store: Store, finding_id: int) -> dict[str, Any] | None:
    """One stored finding (Finding.to_dict() plus status and campaign), or None."""
    with store.transaction(f"read finding {finding_id}") as session:
        row = session.get(FindingRow, finding_id)
        return {**views.finding_document(row), "row_id": row.id} if row is not None else None


def target_known(store: Store, name: str) -> bool:
    """True when `name` is registered or has campaigns."""
    with store.transaction(f"look up target {name!r}") as session:
        registered = session.get(RegistrationRow, name) is not None
        seen = session.scalar(
            select(func.count()).select_from(TargetRow).where(TargetRow.name == name)
        )
    return registered or bool(seen)


def registration(store: Store, name: str) -> dict[str, Any] | None:
    """The registration of `name` (spec, schedule, versions), or None."""
    with store.transaction(f"read registration {name!r}") as session:
        row = session.get(RegistrationRow, name)
        if row is None:
            return None
        return {
            "name": row.name,
            "schedule": _schedule(row),
            "model_version": row.model_version,
            "model_hash": row.model_hash,
            "next_run_at": views.iso(row.next_run_at),
            "model": row.spec.get("model"),
            "data": row.spec.get("data"),
            "probes": row.spec.get("probes"),
        }


def active_policy(store: Store, name: str) -> dict[str, Any] | None:
    """The active guard policy of `name`, or None (the default policy applies then)."""
    with store.transaction(f"read the guard policy of {name!r}") as session:
        row = session.scalars(
            select(PolicyRow).where(PolicyRow.target == name, PolicyRow.active.is_(True))
        ).first()
        if row is None:
            return None
        return {
            "id": row.id,
            "version": row.version,
            "source": row.source,
            "created_at": views.iso(row.created_at),
            "created_by": row.created_by,
            "document": row.document,
        }


def monitor_points(store: Store, name: str) -> dict[str, list[tuple[str, float]]]:
    """Monitor series of `name`: metric -> [(ISO time, value)], oldest first."""
    with store.transaction(f"read the monitor points of {name!r}") as session:
        rows = session.execute(
            select(MonitorPointRow.metric, MonitorPointRow.time, MonitorPointRow.value)
            .where(MonitorPointRow.target == name)
            .order_by(MonitorPointRow.time.desc())
            .limit(MAX_POINTS)
        ).all()
    series: dict[str, list[tuple[str, float]]] = {}
    for metric, time, value in reversed(rows):
        series.setdefault(metric, []).append((views.iso(time) or "", float(value)))
    return series


def guard_events(store: Store, name: str) -> list[dict[str, Any]]:
    """Events recorded for `name` (its source), newest first, at most MAX_EVENTS."""
    return store.list_events(source=name, limit=MAX_EVENTS)


def latest_report(store: Store, name: str) -> dict[str, Any] | None:
    """The stored report of the latest completed campaign on `name`, or None."""
    with store.transaction(f"find the latest campaign of {name!r}") as session:
        campaign_id = session.scalar(
            select(CampaignRow.id)
            .join(TargetRow)
            .where(TargetRow.name == name, CampaignRow.status == "completed")
            .order_by(CampaignRow.started_at.desc(), CampaignRow.id.desc())
            .limit(1)
        )
    return store.get_campaign(campaign_id) if campaign_id else None


def robustness_curves(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Robustness curves of a report: those in its findings' metrics and in its probe runs'
    metrics, as {label, epsilon, accuracy, success_rate}."""
    if report is None:
        return []
    sources = [*report.get("findings", []), *report.get("probes", [])]
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for source in sources:
        for curve in curves_of(source):
            key = (curve.probe, curve.metric)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                {
                    "label": curve.label,
                    "norm": curve.norm_label,
                    "epsilon": curve.epsilon,
                    "accuracy": curve.accuracy,
                    "success_rate": curve.success_rate,
                }
            )
    return out
