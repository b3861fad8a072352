"""The service under test, in-process: create_app with its lifespan and background parts
running behind a FastAPI TestClient, and one API key per role; plus the set-ups the service
tests share (the store URL per database, breast-cancer model files, target specs)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_breast_cancer

from redwatch.service import keys
from redwatch.service.app import create_app
from redwatch.service.settings import ServiceSettings
from redwatch.service.state import ServiceState
from redwatch.store import Store

ROLES = ("viewer", "analyst", "admin")
LABEL = "diagnosis"
TRAIN_ROWS = 400


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


def db_url_for(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL of a test parametrised over "sqlite" / "postgres": a SQLite file under
    tmp_path, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("fresh_postgres_url"))
    return f"sqlite:///{tmp_path / 'service.db'}"


def breast_cancer_files(
    root: Path, models: dict[str, Any], *, data_from: int = TRAIN_ROWS, columns: int = 30
) -> dict[str, Path]:
    """Fit each estimator on the first 400 rows of breast cancer (its first `columns`
    features), save it as root/NAME.joblib, and write root/data.csv (label `diagnosis`) from
    row `data_from` on; every file by its stem."""
    data = load_breast_cancer(as_frame=True)
    x, y = data.data.iloc[:, :columns], data.target
    for name, model in models.items():
        joblib.dump(model.fit(x[:TRAIN_ROWS], y[:TRAIN_ROWS]), root / f"{name}.joblib")
    frame = x[data_from:].copy()
    frame[LABEL] = y[data_from:]
    frame.to_csv(root / "data.csv", index=False)
    return {p.stem: p for p in root.iterdir()}


def target_spec(name: str, model: Path, data: Path, **fields: Any) -> dict[str, Any]:
    """The body of POST /targets for a model and its labelled data, plus `fields`."""
    return {"name": name, "model": str(model), "data": str(data), "label": LABEL, **fields}
