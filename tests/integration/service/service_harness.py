"""The service under test, in-process: create_app with its lifespan and background parts
running behind a FastAPI TestClient, and one API key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from redwatch.service import keys
from redwatch.service.app import create_app
from redwatch.service.settings import ServiceSettings
from redwatch.service.state import ServiceState
from redwatch.store import Store

ROLES = ("viewer", "analyst", "admin")


@dataclass
class Harness:
    """A running service: its HTTP client, its state, and one API key per role."""

    client: TestClient
    state: ServiceState
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        """Request headers authenticating as `role`."""
        return {"X-API-Key": self.keys[role]}

    def get(self, path: str, role: str = "viewer", **kwargs: Any) -> Any:
        """GET `path` as `role`; the response."""
        return self.client.get(path, headers=self.headers(role), **kwargs)

    def post(self, path: str, role: str = "analyst", **kwargs: Any) -> Any:
        """POST `path` as `role`; the response."""
        return self.client.post(path, headers=self.headers(role), **kwargs)


def start_service(home: Path, db_url: str, **settings: Any) -> Iterator[Harness]:
    """Open the store, create one key per role, run the app until the caller is done."""
    options: dict[str, Any] = {"tick_s": 0.2, **settings}
    config = ServiceSettings(home=home, db_url=db_url, **options)
    store = Store.open(db_url)
    secrets = {role: keys.create_key(store, f"test-{role}", role)[1] for role in ROLES}
    app = create_app(config, store)
    with TestClient(app) as client:
        yield Harness(client, app.state.redwatch, secrets)
