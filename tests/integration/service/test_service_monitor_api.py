"""The monitor through the API on SQLite and PostgreSQL: observations of a registered
breast-cancer model fill windows, a shifted window raises one drift event per drifting
feature, late labels join by prediction id (unknown ids reported) and a run of wrong
answers raises a performance event; a replaced model file fails its integrity checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from service_harness import Harness
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

API = "/api/v1"
WINDOW = 200  # PSI on 10 bins needs a few hundred rows: E[PSI] ~ 9 / n


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A logistic regression on 5 breast-cancer features, its evaluation CSV, a rival model."""
    root = tmp_path_factory.mktemp("monitor")
    data = load_breast_cancer(as_frame=True)
    x, y = data.data.iloc[:, :5], data.target
    joblib.dump(LogisticRegression(max_iter=2000).fit(x[:300], y[:300]), root / "model.joblib")
    joblib.dump(
        LogisticRegression(C=1e-4, max_iter=2000).fit(x[:300], y[:300]), root / "rival.joblib"
    )
    frame = x[300:].copy()
    frame["diagnosis"] = y[300:]
    frame.to_csv(root / "data.csv", index=False)
    return {p.stem: p for p in root.iterdir()}


def _register(service: Harness, files: dict[str, Path], model: Path | None = None) -> None:
    spec = {
        "name": "cancer",
        "model": str(model or files["model"]),
        "data": str(files["data"]),
        "label": "diagnosis",
        "monitor": {"window": WINDOW},
    }
    created = service.post(f"{API}/targets", json=spec)
    assert created.status_code == 201, created.text


def _batch(model: Any, x: np.ndarray) -> dict[str, Any]:
    return {
        "instances": x.tolist(),
        "proba": model.predict_proba(x).tolist(),
        "predicted": model.predict(x).tolist(),
    }


def _reference(files: dict[str, Path]) -> tuple[Any, np.ndarray, np.ndarray]:
    data = np.genfromtxt(files["data"], delimiter=",", skip_header=1)
    return joblib.load(files["model"]), data[:, :5], data[:, 5].astype(int)


def test_drift_labels_and_monitor_series(service: Harness, files: dict[str, Path]) -> None:
    _register(service, files)
    model, x, _ = _reference(files)
    rng = np.random.default_rng(0)
    calm = x[rng.choice(len(x), WINDOW)]
    answer = service.post(f"{API}/targets/cancer/observations", json=_batch(model, calm))
    assert answer.status_code == 201, answer.text
    ids = answer.json()["ids"]
    assert len(ids) == WINDOW
    assert len(set(ids)) == WINDOW
    shifted = x[rng.choice(len(x), WINDOW)].copy()
    shifted[:, 0] += 2.0 * x[:, 0].std()
    body = {**_batch(model, shifted), "ids": [f"s{i}" for i in range(WINDOW)], "time": 1.7e9}
    assert service.post(f"{API}/targets/cancer/observations", json=body).status_code == 201
    drift = service.state.store.list_events(kind="drift", source="cancer")
    assert [e["data"]["feature"] for e in drift] == ["mean radius"]
    assert drift[0]["data"]["test"] == "ks"
    assert drift[0]["data"]["p_value"] < 0.01 / 5
    summary = service.get(f"{API}/targets/cancer/monitor", params={"metric": "psi:mean radius"})
    assert summary.status_code == 200
    doc = summary.json()
    assert doc["pending_rows"] == 0
    assert doc["latest"]["drifted_features"]["value"] == 1.0
    # the shifted window was served at the given (earlier) time, so it comes first
    assert [p["value"] > 0.2 for p in doc["series"]] == [True, False]
    wrong = [{"id": f"s{i}", "label": int(1 - v)} for i, v in enumerate(model.predict(shifted))]
    labelled = service.post(
        f"{API}/targets/cancer/labels", json={"labels": [*wrong, {"id": "nope", "label": 1}]}
    )
    assert labelled.json() == {
        "target": "cancer",
        "labelled": WINDOW,
        "unknown": 1,
        "unknown_ids": ["nope"],
    }
    perf = service.state.store.list_events(kind="performance", source="cancer")
    assert [e["data"]["metric"] for e in perf if e["data"]["value"] == 0.0] == ["accuracy"]
    actions = [e["action"] for e in service.get(f"{API}/audit", role="admin").json()]
    assert actions[:3] == ["labels.add", "observations.add", "observations.add"]


def test_bad_observations_are_one_line_errors(service: Harness, files: dict[str, Path]) -> None:
    _register(service, files)
    model, x, _ = _reference(files)
    good = _batch(model, x[:3])
    assert service.post(f"{API}/targets/other/observations", json=good).status_code == 404
    assert service.get(f"{API}/targets/other/monitor").status_code == 404
    narrow = {**good, "instances": x[:3, :4].tolist()}
    answer = service.post(f"{API}/targets/cancer/observations", json=narrow)
    assert answer.status_code == 422
    assert "columns" in answer.json()["error"]
    nan = {**good, "instances": [[float("nan")] * 5, *x[1:3].tolist()]}
    answer = service.client.post(
        f"{API}/targets/cancer/observations",
        content=json.dumps(nan),  # NaN literals: what a careless client sends
        headers={**service.headers("analyst"), "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert "NaN" in answer.json()["error"]
    extra = {**good, "extra": 1}
    assert service.post(f"{API}/targets/cancer/observations", json=extra).status_code == 422
    viewer = service.post(f"{API}/targets/cancer/observations", role="viewer", json=good)
    assert viewer.status_code == 403
    twice = {**good, "ids": ["a", "b", "c"]}
    assert service.post(f"{API}/targets/cancer/observations", json=twice).status_code == 201
    again = service.post(f"{API}/targets/cancer/observations", json=twice)
    assert again.status_code == 422
    assert "observed already" in again.json()["error"]
    assert service.get(f"{API}/targets/cancer/monitor").json()["pending_rows"] == 3


def test_a_replaced_model_fails_integrity(
    service_sqlite: Harness, files: dict[str, Path], tmp_path: Path
) -> None:
    deployed = tmp_path / "deployed.joblib"
    shutil.copyfile(files["model"], deployed)
    _register(service_sqlite, files, deployed)
    hub = service_sqlite.state.monitor
    assert hub is not None
    assert hub.check_integrity("cancer") == []
    shutil.copyfile(files["rival"], deployed)
    events = hub.check_integrity("cancer")
    assert sorted(e.data["check"] for e in events) == ["fingerprint", "hash"]
    stored = service_sqlite.state.store.list_events(kind="integrity", source="cancer")
    assert len(stored) >= 2
    latest = service_sqlite.get(f"{API}/targets/cancer/monitor").json()["latest"]
    assert latest["integrity:hash"]["value"] == 0.0
