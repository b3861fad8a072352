"""The dashboard in-process: every page renders for a viewer's cookie and shows the seeded
data (tests/service_seed.py), no key means a redirect to the login form (pages) or 401
(partials), a fresh service renders its empty states, and no page refers to anything outside
the service."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from service_harness import Harness

from service_seed import Seeded, seed_dashboard

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


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
