"""Registering targets through the API on SQLite and PostgreSQL: validation through the
safe loader and the CSV reader (one-line 4xx, nothing stored), schedules, pausing, model
versions, manual triggers and the job queue, deletion by an admin, and the audit log."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_harness import Harness, breast_cancer_files, db_url_for, start_service, target_spec
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

API = "/api/v1"


class _Payload:
    """An object whose pickle runs a shell command when loaded (never loaded here)."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo pwned",))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two logistic-regression versions, their data, data without the label, a bad pickle."""
    root = tmp_path_factory.mktemp("targets")
    models = {
        name: LogisticRegression(C=c, max_iter=2000) for name, c in (("v1", 1.0), ("v2", 0.01))
    }
    breast_cancer_files(root, models, columns=5)
    features = load_breast_cancer(as_frame=True).data.iloc[400:, :5]
    features.to_csv(root / "nolabel.csv", index=False)
    (root / "evil.pkl").write_bytes(pickle.dumps(_Payload()))
    return {p.stem: p for p in root.iterdir()}


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The service without running campaigns (the queue is the subject), on both stores."""
    yield from start_service(tmp_path / "home", db_url_for(request, tmp_path), run_worker=False)


def _spec(files: dict[str, Path], **overrides: Any) -> dict[str, Any]:
    fields = {"probes": ["evasion.noise"], "budget_seconds": 20, "schedule": {"interval_s": 3600}}
    return {**target_spec("credit", files["v1"], files["data"], **fields), **overrides}


def _actions(api: Harness) -> list[str]:
    return [entry["action"] for entry in api.get(f"{API}/audit", role="admin").json()]


def test_register_list_and_read_a_target(api: Harness, files: dict[str, Path]) -> None:
    created = api.post(f"{API}/targets", json=_spec(files))
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["name"] == "credit"
    assert doc["schedule"] == {"interval_s": 3600.0, "cron": None}
    assert doc["spec"]["model"] == str(files["v1"].resolve())
    assert doc["spec"]["seed"] == 0
    assert doc["model_version"] == "1"
    assert len(doc["model_hash"]) == 64
    assert doc["current_model"]["source"] == "registration"
    assert doc["next_run_at"]
    assert not doc["paused"]
    assert doc["monitor"] == {
        "window": 500,
        "features": None,
        "label_window": None,
        "integrity_every_s": 300.0,
        "public_key": None,
        "signature": None,
    }
    assert [t["name"] for t in api.get(f"{API}/targets").json()] == ["credit"]
    assert api.get(f"{API}/targets/credit").json() == doc
    assert api.get(f"{API}/targets/nope").json() == {"error": "no registered target nope"}
    again = api.post(f"{API}/targets", json=_spec(files))
    assert again.status_code == 409
    assert api.post(f"{API}/targets", role="viewer", json=_spec(files)).status_code == 403
    assert _actions(api)[0] == "targets.register"


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"model": "/nowhere/model.joblib"}, 400, "model file not found: /nowhere/model.joblib"),
        ({"model": "@evil"}, 400, "refus"),
        ({"data": "@nolabel"}, 400, "label column 'diagnosis' not in"),
        ({"schedule": {"cron": "every day"}}, 422, "not a valid five-field cron line"),
        ({"schedule": {"interval_s": 5}}, 422, "between 10 s"),
        ({"probes": ["evasion.nothing"]}, 400, "unknown probe(s): evasion.nothing"),
        ({"name": "bad name!"}, 422, "body.name"),
        ({"colour": "red"}, 422, "body.colour"),
    ],
)
def test_bad_registrations_are_one_line_errors_and_store_nothing(
    api: Harness, files: dict[str, Path], change: dict[str, Any], status: int, words: str
) -> None:
    change = {
        k: str(files[v[1:]]) if isinstance(v, str) and v.startswith("@") else v
        for k, v in change.items()
    }
    answer = api.post(f"{API}/targets", json=_spec(files, **change))
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words.lower() in error.lower()
    assert "\n" not in error
    assert api.get(f"{API}/targets").json() == []


def test_schedule_changes_pause_and_model_versions(api: Harness, files: dict[str, Path]) -> None:
    assert api.post(f"{API}/targets", json=_spec(files)).status_code == 201
    patch = api.client.patch
    cron = patch(
        f"{API}/targets/credit",
        headers=api.headers("analyst"),
        json={"schedule": {"cron": "0 3 * * *"}},
    ).json()
    assert cron["schedule"] == {"interval_s": None, "cron": "0 3 * * *"}
    assert cron["next_run_at"].endswith("T03:00:00+00:00")
    off = patch(
        f"{API}/targets/credit",
        headers=api.headers("analyst"),
        json={"schedule": None, "paused": True},
    ).json()
    assert off["schedule"] is None
    assert off["next_run_at"] is None
    assert off["paused"]
    empty = patch(f"{API}/targets/credit", headers=api.headers("analyst"), json={})
    assert empty.status_code == 422
    assert (
        patch(
            f"{API}/targets/x", headers=api.headers("analyst"), json={"paused": False}
        ).status_code
        == 404
    )

    added = api.post(
        f"{API}/targets/credit/models", json={"path": str(files["v2"]), "source": "harden"}
    )
    assert added.status_code == 201, added.text
    assert (added.json()["version"], added.json()["source"]) == ("2", "harden")
    unsafe = api.post(f"{API}/targets/credit/models", json={"path": str(files["evil"])})
    assert unsafe.status_code == 400
    assert "\n" not in unsafe.json()["error"]
    versions = api.get(f"{API}/targets/credit/models").json()
    assert [v["version"] for v in versions] == ["2", "1"]
    current = api.get(f"{API}/targets/credit").json()
    assert current["model_version"] == "2"
    assert current["model_hash"] is None
    assert current["current_model"]["path"] == str(files["v2"].resolve())
    assert _actions(api)[:3] == ["targets.model_version", "targets.update", "targets.update"]


def test_trigger_queue_and_delete(api: Harness, files: dict[str, Path]) -> None:
    assert api.post(f"{API}/targets", json=_spec(files)).status_code == 201
    job = api.post(f"{API}/targets/credit/campaigns", json={"budget_seconds": 5})
    assert job.status_code == 202, job.text
    doc = job.json()
    assert (doc["reason"], doc["status"], doc["options"]) == (
        "manual",
        "queued",
        {"budget_seconds": 5.0},
    )
    assert api.post(f"{API}/targets/credit/campaigns").json()["id"] == doc["id"]
    bad = api.post(f"{API}/targets/credit/campaigns", json={"probes": ["nope.nope"]})
    assert bad.status_code == 400
    assert api.post(f"{API}/targets/ghost/campaigns").status_code == 404
    assert api.post(f"{API}/targets/credit/campaigns", role="viewer").status_code == 403
    assert api.get(f"{API}/jobs/{doc['id']}").json() == doc
    assert [j["id"] for j in api.get(f"{API}/jobs", params={"target": "credit"}).json()] == [
        doc["id"]
    ]
    assert api.get(f"{API}/jobs", params={"status": "lost"}).status_code == 422
    assert api.get(f"{API}/jobs/nope").status_code == 404

    delete = api.client.delete
    assert delete(f"{API}/targets/credit", headers=api.headers("analyst")).status_code == 403
    gone = delete(f"{API}/targets/credit", headers=api.headers("admin"))
    assert gone.status_code == 200
    assert gone.json()["name"] == "credit"
    assert api.get(f"{API}/targets/credit").status_code == 404
    failed = api.get(f"{API}/jobs/{doc['id']}").json()
    assert (failed["status"], failed["error"]) == ("failed", "target deleted")
    assert delete(f"{API}/targets/credit", headers=api.headers("admin")).status_code == 404
    assert _actions(api)[:2] == ["targets.delete", "targets.trigger"]


def test_trusting_a_model_needs_an_admin(api: Harness, files: dict[str, Path]) -> None:
    evil = api.post(f"{API}/targets", json=_spec(files, model=str(files["evil"]), trust_model=True))
    assert evil.status_code == 403
    assert evil.json() == {"error": "trust_model needs an admin key (it skips the pickle veto)"}
    assert api.get(f"{API}/targets").json() == []
    trusted = api.post(f"{API}/targets", role="admin", json=_spec(files, trust_model=True))
    assert trusted.status_code == 201, trusted.text
    swap = api.post(f"{API}/targets/credit/models", json={"path": str(files["evil"])})
    assert swap.status_code == 403
    assert [v["version"] for v in api.get(f"{API}/targets/credit/models").json()] == ["1"]


def test_paths_outside_the_files_root_are_refused(tmp_path: Path, files: dict[str, Path]) -> None:
    jail = tmp_path / "models"
    jail.mkdir()
    inside = {name: jail / files[name].name for name in ("v1", "v2", "data")}
    for name, path in inside.items():
        path.write_bytes(files[name].read_bytes())
    service = start_service(tmp_path / "home", f"sqlite:///{tmp_path / 's.db'}", files_root=jail)
    api = next(service)
    try:
        outside = api.post(f"{API}/targets", json=_spec(files))
        assert outside.status_code == 403
        assert "outside the service's files root" in outside.json()["error"]
        sneaky = _spec(inside, data=str(jail / ".." / files["data"].name))
        assert api.post(f"{API}/targets", json=sneaky).status_code == 403
        assert api.post(f"{API}/targets", json=_spec(inside)).status_code == 201
        escape = api.post(f"{API}/targets/credit/models", json={"path": str(files["v2"])})
        assert escape.status_code == 403
        moved = api.post(f"{API}/targets/credit/models", json={"path": str(inside["v2"])})
        assert moved.status_code == 201, moved.text
    finally:
        service.close()
