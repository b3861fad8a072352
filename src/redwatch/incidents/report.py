"""The post-incident report, in HTML and Markdown: what happened (the timeline), the ATLAS
techniques involved, the impact on the target while the incident was open (requests,
blocked calls, predictions served and how many of the labelled ones were wrong), the
mitigations applied, and the campaigns that verified them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redwatch import __version__
from redwatch.exceptions import UsageError
from redwatch.incidents.causes import cause_of, techniques
from redwatch.incidents.repo import read_incident
from redwatch.store.models import EventRow
from redwatch.store.repository import Store
from redwatch.store.service_models import ObservationRow

FORMATS = {"html": "incident.html.j2", "md": "incident.md.j2"}


@cache
def environment(autoescape: bool) -> Environment:
    """Templates of this package; HTML auto-escaped, Markdown as written."""
    return Environment(
        loader=PackageLoader("redwatch.incidents", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def impact(session: Session, target: str, start: datetime, end: datetime) -> dict[str, Any]:
    """What the target saw between start and end: events by kind, blocked calls,
    predictions served, labelled and wrong among the labelled."""
    in_window = (EventRow.source == target, EventRow.time.between(start, end))
    kinds = Counter(
        {
            str(kind): int(n)
            for kind, n in session.execute(
                select(EventRow.kind, func.count()).where(*in_window).group_by(EventRow.kind)
            )
        }
    )
    blocked = session.scalar(
        select(func.count()).select_from(EventRow).where(*in_window, EventRow.action == "block")
    )
    seen = (ObservationRow.target == target, ObservationRow.time.between(start, end))
    served = session.scalar(select(func.count()).select_from(ObservationRow).where(*seen))
    labelled = session.execute(
        select(ObservationRow.prediction, ObservationRow.label).where(
            *seen, ObservationRow.label.is_not(None)
        )
    ).all()
    wrong = sum(1 for prediction, label in labelled if str(prediction) != str(label))
    return {
        "events": sum(kinds.values()),
        "events_by_kind": dict(kinds.most_common()),
        "blocked": int(blocked or 0),
        "predictions": int(served or 0),
        "requests": int(served or 0) + int(blocked or 0),
        "labelled": len(labelled),
        "wrong": wrong,
    }


def _techniques(incident: dict[str, Any]) -> list[tuple[str, str]]:
    """ATLAS (id, name) pairs of the incident's cause and of the kinds of its alerts."""
    causes = [incident["cause"]]
    causes += [cause_of(a["kind"], a["data"].get("event", {})) for a in incident["alerts"]]
    pairs: dict[str, str] = {}
    for cause in dict.fromkeys(causes):
        pairs.update(techniques(cause))
    return sorted(pairs.items())


def report_context(
    store: Store, incident_id: int, now: datetime | None = None
) -> dict[str, Any] | None:
    """Everything the templates show, or None when there is no such incident."""
    with store.transaction(f"read incident {incident_id} for its report") as session:
        incident = read_incident(session, incident_id)
        if incident is None:
            return None
        start = datetime.fromisoformat(incident["opened_at"])
        closed = incident["closed_at"]
        end = datetime.fromisoformat(closed) if closed else (now or datetime.now(UTC))
        seen = impact(session, incident["target"], start, end)
    timeline = incident["timeline"]
    return {
        "incident": incident,
        "window": {"start": start.isoformat(), "end": end.isoformat(), "open": closed is None},
        "techniques": _techniques(incident),
        "impact": seen,
        "mitigations": [e for e in timeline if e["kind"] == "mitigation"],
        "verifications": [e for e in timeline if e["kind"] == "verification"],
        "generated_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "version": __version__,
    }


def incident_report(
    store: Store, incident_id: int, fmt: str = "html", now: datetime | None = None
) -> str | None:
    """The report of an incident as HTML or Markdown text; None when it does not exist."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")
    context = report_context(store, incident_id, now)
    if context is None:
        return None
    return environment(fmt == "html").get_template(FORMATS[fmt]).render(**context)
