"""The dashboard in-process: every page renders for a viewer's cookie and shows the seeded
data, no key means a redirect to the login form (pages) or 401 (partials), a fresh service
renders its empty states, and no page refers to anything outside the service.

`seed_dashboard` (also used by tests/e2e/test_dashboard_browser.py) writes through the real
code paths: two campaigns by run_scan on the digits model, guard events by Store.add_events;
the registration by registrations.register; the service rows whose owners have no writer
for them that a test can call without the whole pipeline (monitor points, a policy, an
incident with alerts) go in directly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from service_harness import Harness
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
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


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


def login(service: Harness, role: str) -> Any:
    """Log the harness's client in through the form as `role`; the response."""
    service.client.cookies.clear()
    return service.client.post(
        "/ui/login", data={"key": service.keys[role]}, follow_redirects=False
    )


def pages(seeded: Seeded) -> dict[str, str]:
    """Each page and a text it must show."""
    return {
        "/": "Evasion attempts against digits",
        f"/ui/targets/{seeded.target}": "Campaign history",
        "/ui/incidents": seeded.incident_title,
        f"/ui/incidents/{seeded.incident_id}": "looking into client-1",
        "/ui/findings": seeded.finding_title,
        f"/ui/findings/{seeded.finding_id}": "Mitigation",
    }


def assert_self_contained(html: str) -> None:
    """No script, stylesheet, link or form pointing outside the service."""
    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)


def test_every_page_renders_the_seeded_data_for_a_viewer(service: Harness, tmp_path: Path) -> None:
    seeded = seed_dashboard(service.state.store, tmp_path)
    answer = login(service, "viewer")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    for path, text in pages(seeded).items():
        page = service.client.get(path)
        assert page.status_code == 200, path
        assert text in page.text, path
        assert_self_contained(page.text)
    target = service.client.get(f"/ui/targets/{seeded.target}").text
    for chart in ("robustness-chart", "drift-chart", "events-chart"):
        assert f'data-chart="{chart}"' in target
    assert "rate_limit" in target  # the active policy
    overview = service.client.get("/").text
    assert 'data-chart="trend-chart"' in overview
    assert "/ui/static/plotly.min.js" in overview
    incident = service.client.get(f"/ui/incidents/{seeded.incident_id}").text
    assert "Apply mitigation" not in incident  # a viewer cannot change it
    assert "needs the analyst role" in incident


def test_analysts_get_the_incident_buttons(service_sqlite: Harness, tmp_path: Path) -> None:
    seeded = seed_dashboard(service_sqlite.state.store, tmp_path)
    login(service_sqlite, "analyst")
    html = service_sqlite.client.get(f"/ui/incidents/{seeded.incident_id}").text
    assert f'hx-post="/api/v1/incidents/{seeded.incident_id}/mitigate"' in html
    assert 'hx-vals=\'{"action": "guard_policy"}\'' in html
    assert f'hx-patch="/api/v1/incidents/{seeded.incident_id}"' in html
    high = service_sqlite.client.get("/ui/partials/findings", params={"severity": "high"})
    critical = service_sqlite.client.get("/ui/partials/findings", params={"severity": "critical"})
    assert seeded.finding_title in high.text
    assert seeded.finding_title not in critical.text
    assert "No open findings at critical or above" in critical.text
    status = service_sqlite.client.get(f"/ui/partials/incidents/{seeded.incident_id}/status")
    assert "opened by an intrusion alert" in status.text
    bad = service_sqlite.client.get("/ui/findings", params={"severity": "dire"})
    assert bad.status_code == 400
    assert "unknown severity" in bad.json()["error"]


def test_no_key_means_the_login_form(service_sqlite: Harness) -> None:
    client = service_sqlite.client
    client.cookies.clear()
    for path in ("/", "/ui/incidents", "/ui/findings", "/ui/targets/x", "/ui/incidents/1"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/ui/login"
    assert client.get("/ui/partials/alerts").status_code == 401
    form = client.get("/ui/login")
    assert form.status_code == 200
    assert 'name="key"' in form.text
    assert_self_contained(form.text)
    wrong = client.post("/ui/login", data={"key": "rwk_not-a-key"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert "invalid or revoked API key" in wrong.text
    assert "set-cookie" not in wrong.headers
    login(service_sqlite, "viewer")
    assert client.get("/", follow_redirects=False).status_code == 200
    out = client.get("/ui/logout", follow_redirects=False)
    assert out.headers["location"] == "/ui/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_fresh_service_renders_empty_states(service_sqlite: Harness) -> None:
    login(service_sqlite, "viewer")
    client = service_sqlite.client
    expected = {
        "/": "No targets yet",
        "/ui/incidents": "No incidents.",
        "/ui/findings": "No open findings",
    }
    for path, text in expected.items():
        page = client.get(path)
        assert page.status_code == 200, path
        assert text in page.text, path
    assert "No completed campaign yet" in client.get("/").text
    assert client.get("/ui/targets/nothing").status_code == 404
    assert client.get("/ui/incidents/12345").status_code == 404
    assert client.get("/ui/findings/12345").status_code == 404


def test_static_files_come_from_the_installed_packages(service_sqlite: Harness) -> None:
    client = service_sqlite.client
    for name, marker, size in (
        ("htmx.min.js", "htmx", 10_000),
        ("plotly.min.js", "plotly", 1_000_000),
        ("dashboard.css", "--critical", 500),
        ("dashboard.js", "json-body", 500),
    ):
        answer = client.get(f"/ui/static/{name}")
        assert answer.status_code == 200, name
        assert len(answer.content) > size, name
        assert marker in answer.text[:5000] or marker in answer.text, name
        assert "max-age=31536000" in answer.headers["cache-control"]
    assert client.get("/ui/static/secret.py").status_code == 404
