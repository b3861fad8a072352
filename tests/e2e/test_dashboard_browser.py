"""The dashboard in a real browser: the service runs on uvicorn in a thread on a free local
port, Debian's headless Chromium (driven by Playwright) logs in with an analyst key, visits
every page, checks that Plotly drew the charts (an svg exists), uses the htmx severity filter
and the incident buttons, and saves a screenshot of each page under
test-artifacts/dashboard/ (REDWATCH_TEST_ARTIFACTS names another folder to put dashboard/ in).
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from e2e_helpers import require_tool
from fastapi import FastAPI
from playwright.sync_api import Page, sync_playwright

from redwatch.service import keys
from redwatch.service.app import create_app
from redwatch.service.settings import ServiceSettings
from redwatch.store.repository import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from service_seed import Seeded, seed_dashboard

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"
PARAM = re.compile(r"\{[^}]*\}")


@dataclass
class Live:
    """The running service: its base URL, app, seeded ids and the analyst's key."""

    url: str
    app: FastAPI
    seeded: Seeded
    key: str


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """Seeded service on uvicorn in a thread; stopped and joined afterwards."""
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    store = Store.open(db_url)
    seeded = seed_dashboard(store, tmp_path)
    secret = keys.create_key(store, "browser", "analyst")[1]
    settings = ServiceSettings(home=tmp_path / "home", db_url=db_url, run_worker=False, tick_s=0.5)
    app = create_app(settings, store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield Live(f"http://127.0.0.1:{port}", app, seeded, secret)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    """Block until uvicorn serves (or fail if its thread died)."""
    event = threading.Event()
    while not server.started:
        assert thread.is_alive(), "uvicorn failed to start"
        event.wait(0.05)


def artifacts() -> Path:
    """Where the screenshots go (created)."""
    base = Path(os.environ.get("REDWATCH_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder = base / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Page, name: str) -> None:
    """Full-page screenshot `name`.png; it must be a non-empty PNG."""
    path = artifacts() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(PNG), name
    assert len(data) > 5_000, name


def has_route(app: FastAPI, path: str, method: str) -> bool:
    """True when the app's OpenAPI document lists `method path`, whatever its parameters
    are named (the routes of other engineers may not be written yet)."""
    shape = PARAM.sub("{}", path)
    paths = app.openapi()["paths"]
    return any(PARAM.sub("{}", p) == shape and method.lower() in ops for p, ops in paths.items())


@pytest.mark.slow
def test_dashboard_in_chromium(live: Live) -> None:
    chromium = require_tool("chromium", "chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _login(page, live)
            _visit_pages(page, live)
            _filter_findings(page, live)
            _incident_actions(page, live)
            assert errors == []
        finally:
            browser.close()


def _login(page: Page, live: Live) -> None:
    """Redirected to the form, a wrong key refused, the right one accepted."""
    page.goto(live.url + "/")
    assert page.url == live.url + "/ui/login"
    shoot(page, "login")
    page.fill("#key", "rwk_wrong")
    page.click("button[type=submit]")
    page.get_by_text("invalid or revoked API key").wait_for()
    page.fill("#key", live.key)
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/")


def _visit_pages(page: Page, live: Live) -> None:
    """Every page, its charts drawn by Plotly, a screenshot each."""
    seeded = live.seeded
    visits = {
        "overview": ("/", ["#trend-chart"]),
        "target": (
            f"/ui/targets/{seeded.target}",
            ["#robustness-chart", "#drift-chart", "#events-chart"],
        ),
        "incidents": ("/ui/incidents", []),
        "incident": (f"/ui/incidents/{seeded.incident_id}", []),
        "findings": ("/ui/findings", []),
        "finding": (f"/ui/findings/{seeded.finding_id}", ["#finding-chart"]),
    }
    for name, (path, chart_ids) in visits.items():
        page.goto(live.url + path)
        assert page.title().endswith("redwatch"), name
        for chart in chart_ids:
            page.wait_for_selector(f"{chart} svg.main-svg", timeout=15_000)
            assert page.locator(f"{chart} .trace").count() > 0, f"{name} {chart}"
        shoot(page, name)


def _filter_findings(page: Page, live: Live) -> None:
    """The severity filter reloads the table in place (htmx partial)."""
    page.goto(live.url + "/ui/findings")
    assert page.locator("tr.finding-row").count() > 0
    page.select_option("#severity", "critical")
    page.get_by_text("No open findings at critical or above").wait_for()
    assert page.url == live.url + "/ui/findings"
    page.select_option("#severity", "high")
    page.locator("tr.finding-row").first.wait_for()


def _incident_actions(page: Page, live: Live) -> None:
    """The incident buttons; each is clicked when its API route exists in this build (the
    mitigation marks the incident mitigated, then closing it closes it)."""
    incident = live.seeded.incident_id
    page.goto(f"{live.url}/ui/incidents/{incident}")
    apply = page.locator("#apply-mitigation")
    assert apply.is_visible()
    assert apply.get_attribute("hx-post") == f"/api/v1/incidents/{incident}/mitigate"
    assert page.locator("#mark-mitigated").is_visible()
    can_patch = has_route(live.app, "/api/v1/incidents/{incident_id}", "PATCH")
    if has_route(live.app, "/api/v1/incidents/{incident_id}/mitigate", "POST"):
        apply.click()
        _action_succeeded(page, "mitigation applied")
        page.locator("#status .badge.st-mitigated").wait_for()
    elif can_patch:
        page.click("#mark-mitigated")
        _action_succeeded(page, "marked mitigated")
        page.locator("#status .badge.st-mitigated").wait_for()
    if can_patch:
        page.click("#mark-closed")
        _action_succeeded(page, "closed")
        page.locator("#status .badge.st-closed").wait_for()
        assert page.locator("#timeline li").count() > 2  # the changes are on the timeline
    shoot(page, "incident-actions")
    page.goto(f"{live.url}/ui/findings/{live.seeded.finding_id}")
    assert page.locator("#apply-mitigation").get_attribute("hx-post", timeout=5_000)


def _action_succeeded(page: Page, text: str) -> None:
    """Wait for the action's answer; it must be the success message `text`."""
    outcome = page.locator("#action-result.ok, #action-result.error")
    outcome.wait_for(timeout=60_000)
    message = outcome.text_content() or ""
    assert "ok" in (outcome.get_attribute("class") or ""), message
    assert text in message
