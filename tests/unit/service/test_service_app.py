"""create_app's wiring and error lines: the event hub is the first part, the events and
campaigns routers are mounted, validation errors and logged tracebacks become one line."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from redwatch.cli.serve_cmd import one_line_errors, service_settings
from redwatch.exceptions import UsageError
from redwatch.service import app as app_module
from redwatch.service.app import create_app, validation_line
from redwatch.service.events_hub import EventHub
from redwatch.service.settings import ServiceSettings


def test_event_hub_is_the_first_part_and_routes_are_mounted(tmp_path: Path) -> None:
    assert app_module.PARTS[0] == ("events", "redwatch.service.events_hub:build_event_hub")
    assert {"events", "campaigns"} <= set(app_module.ROUTERS)
    settings = ServiceSettings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'a.db'}")
    app = create_app(settings)
    paths = app.openapi()["paths"]
    assert {"/api/v1/events", "/api/v1/campaigns", "/api/v1/findings"} <= set(paths)
    assert set(paths["/api/v1/events"]) == {"get", "post"}
    state = app.state.redwatch
    with TestClient(app) as client:
        assert isinstance(state.events, EventHub)
        assert client.get("/api/v1/events").json() == {
            "error": "missing API key: send X-API-Key or Authorization: Bearer"
        }


def test_validation_line_names_the_field() -> None:
    errors = [{"loc": ("body", "events", 3), "msg": "Input should be a valid dictionary"}]
    assert validation_line(errors) == "body.events.3: Input should be a valid dictionary"
    assert validation_line([]) == "invalid request"


def test_a_logged_traceback_becomes_one_line() -> None:
    try:
        raise ValueError("bad alerting file\nsecond line")
    except ValueError:
        record = logging.LogRecord("uvicorn.error", 40, "x", 1, "startup %s", ("failed",), None)
        record.exc_info = sys.exc_info()
    assert one_line_errors(record) is True
    assert record.exc_info is None
    assert record.getMessage() == "startup failed: ValueError: bad alerting file"


def test_serve_options_are_checked_before_start(tmp_path: Path) -> None:
    cases = [
        ({"executor": "spark"}, "--executor must be local or ray"),
        ({"ray_address": "ray://x:1"}, "--ray-address needs --executor ray"),
        ({"alerts": tmp_path / "none.yml"}, "--alerts: no file"),
        ({"tick": -1.0}, "bad option: tick_s"),
    ]
    for changes, message in cases:
        options = {"db": None, "alerts": None, "tick": 2.0, "executor": "local"}
        options.update({"ray_address": None, "run_worker": True, **changes})
        with pytest.raises(UsageError, match=re.escape(message)):
            service_settings(**options)  # type: ignore[arg-type]
    made = service_settings("sqlite:///x.db", None, 0.5, "ray", "ray://h:1", False)
    assert (made.db_url, made.tick_s, made.executor, made.run_worker) == (
        "sqlite:///x.db",
        0.5,
        "ray",
        False,
    )
