"""Dashboard data for the service tests (tests/integration/service/test_service_dashboard_pages.py
and tests/e2e/test_dashboard_browser.py), written through the real code paths: two campaigns
by run_scan on the digits model, guard events by Store.add_events, the registration by
registrations.register; the service rows whose owners have no writer that a test can call
without the whole pipeline (monitor points, a policy, an incident with alerts) go in
directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import pandas as pd
from sqlalchemy import select

from redwatch.demo.models import train_digits_logreg
from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.guard.stage import Action, GuardEvent
from redwatch.service import registrations
from redwatch.service.keys import SYSTEM
from redwatch.service.registrations import TargetSpec
from redwatch.store.models import FindingRow
from redwatch.store.repository import Store
from redwatch.store.service_models import (
    AlertRow,
    IncidentEntryRow,
    IncidentRow,
    MonitorPointRow,
    PolicyRow,
)
from redwatch.targets.detect import from_object

TARGET = "digits"
PARAMS = {
    "evasion.noise": {"samples": 80, "draws": 2, "epsilons": [1, 2, 4, 8], "reference_epsilon": 4},
    "evasion.sensitivity": {"samples": 80},
}


@dataclass(frozen=True)
class Seeded:
    """What seed_dashboard stored: ids the pages are reached by."""

    target: str
    incident_id: int
    incident_title: str
    finding_id: int
    finding_title: str


def seed_dashboard(store: Store, root: Path) -> Seeded:
    """Two real campaigns, guard events, a registration, drift points, an active policy and
    an open incident with alerts and a timeline, all for the digits model."""
    demo = train_digits_logreg(seed=0)
    target = from_object(demo.model, name=TARGET)
    names = list(demo.feature_names)
    data = Dataset(demo.x_test, demo.y_test, names, "digit", "digits-test")
    for seed in (0, 1):
        options = ScanOptions(
            out_dir=root / f"report{seed}",
            probes=list(PARAMS),
            params=PARAMS,
            formats=("json",),
            seed=seed,
        )
        assert run_scan(target, target.kind, data, store, options).status == "completed"
    store.add_events(_events(), source=TARGET)
    model_path = root / "digits.joblib"
    joblib.dump(demo.model, model_path)
    frame = pd.DataFrame(demo.x_test, columns=names).assign(digit=demo.y_test)
    frame.to_csv(root / "digits.csv", index=False)
    _register(store, model_path, root / "digits.csv")
    with store.transaction("seed the dashboard", write=True) as session:
        session.add_all(_monitor_points())
        session.add(_policy())
        incident = _incident()
        session.add(incident)
        session.flush()
        session.add_all(_alerts(incident.id))
        session.add_all(_timeline(incident.id))
        finding = session.scalars(select(FindingRow).order_by(FindingRow.id.desc())).first()
        assert finding is not None, "the campaigns found nothing; the finding page needs one"
        return Seeded(TARGET, incident.id, incident.title, finding.id, finding.title)


def _events() -> list[GuardEvent]:
    """Intrusion blocks and rate limits over the last hour from two clients."""
    now = datetime.now(UTC).timestamp()
    kinds = ("intrusion", "rate_limited", "invalid_input")
    return [
        GuardEvent(
            stage="input",
            kind=kinds[i % 3],
            action=Action.BLOCK,
            detail=f"seeded event {i}",
            client=f"client-{i % 2}",
            data={"row": i},
            timestamp=now - 3600 + i * 90,
        )
        for i in range(40)
    ]


def _register(store: Store, model: Path, data: Path) -> None:
    """Register the digits model on demand (no schedule, so nothing runs by itself)."""
    spec = TargetSpec(
        name=TARGET,
        model=str(model),
        data=str(data),
        label="digit",
        probes=list(PARAMS),
        params=PARAMS,
    )
    registrations.register(store, SYSTEM, spec)


def _monitor_points() -> list[MonitorPointRow]:
    """PSI of one feature climbing over six windows, and accuracy falling."""
    start = datetime.now(UTC) - timedelta(hours=6)
    points = []
    for i in range(6):
        when = start + timedelta(hours=i)
        points.append(
            MonitorPointRow(
                target=TARGET,
                time=when,
                metric="psi:pixel_10",
                value=0.02 + 0.05 * i,
                data={"test": "psi"},
            )
        )
        points.append(
            MonitorPointRow(
                target=TARGET,
                time=when,
                metric="accuracy",
                value=0.97 - 0.03 * i,
                data={"window": 500},
            )
        )
    return points


def _policy() -> PolicyRow:
    """An active guard policy version."""
    document = {"stages": [{"type": "schema"}, {"type": "rate_limit", "per_minute": 60}]}
    return PolicyRow(
        target=TARGET, version=1, document=document, source="seed", active=True, created_by="test"
    )


def _incident() -> IncidentRow:
    """An open evasion incident."""
    return IncidentRow(
        target=TARGET,
        cause="evasion",
        status="open",
        severity=3,
        title="Evasion attempts against digits",
        data={"alerts": 2},
    )


def _alerts(incident_id: int) -> list[AlertRow]:
    """Two alerts of the incident."""
    now = datetime.now(UTC)
    return [
        AlertRow(
            id=f"alert{i:027d}",
            time=now - timedelta(minutes=10 - i),
            severity=3,
            title=f"Intrusion blocked ({i + 1})",
            source=TARGET,
            kind="intrusion",
            client="client-1",
            target=TARGET,
            cause="evasion",
            count=5 + i,
            detail="seeded",
            data={},
            incident_id=incident_id,
        )
        for i in range(2)
    ]


def _timeline(incident_id: int) -> list[IncidentEntryRow]:
    """The incident opening and a note."""
    return [
        IncidentEntryRow(
            incident_id=incident_id,
            kind="opened",
            actor="redwatch",
            text="opened by an intrusion alert",
            data={},
        ),
        IncidentEntryRow(
            incident_id=incident_id,
            kind="note",
            actor="analyst",
            text="looking into client-1",
            data={},
        ),
    ]
