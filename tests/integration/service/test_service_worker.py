"""The campaign worker on a real XGBoost model: a schedule runs a campaign whose new
findings reach the events table, a second run reports nothing new, a new model version
triggers a model_change campaign; restart recovery and atomic claims on both stores."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from service_harness import Harness, breast_cancer_files, db_url_for, start_service, target_spec
from xgboost import XGBClassifier

from redwatch.service import jobs
from redwatch.service.keys import SYSTEM
from redwatch.service.registrations import TargetSpec, register
from redwatch.store.repository import Store

API = "/api/v1"
PROBES = ["evasion.noise", "evasion.sensitivity", "evasion.hopskipjump"]
PARAMS = {"evasion.hopskipjump": {"samples": 8, "max_queries": 200}}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two XGBoost versions on breast cancer (saved with joblib) and held-out data."""
    models = {
        name: XGBClassifier(n_estimators=20, max_depth=depth, random_state=0, n_jobs=1)
        for name, depth in (("v1", 3), ("v2", 1))
    }
    return breast_cancer_files(tmp_path_factory.mktemp("worker"), models)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store on SQLite, then on PostgreSQL."""
    return db_url_for(request, tmp_path)


def _spec(files: dict[str, Path], **overrides: Any) -> dict[str, Any]:
    fields = {"probes": PROBES, "params": PARAMS, "budget_seconds": 120}
    return {**target_spec("bc", files["v1"], files["data"], **fields), **overrides}


def _one_job(service: Harness, reason: str, timeout_s: float = 120) -> dict[str, Any]:
    """Wait for the scheduler to queue a job of `reason`, then for the job to finish."""
    assert service.state.worker is not None
    for _ in range(int(timeout_s / 0.1)):
        found = service.get(f"{API}/jobs", params={"target": "bc", "reason": reason}).json()
        if found:
            return service.state.worker.wait(found[0]["id"], timeout_s)
        threading.Event().wait(0.1)
    raise AssertionError(f"no {reason} job was queued")


def _events(service: Harness, kind: str, job_id: str) -> list[dict[str, Any]]:
    stored = service.state.store.list_events(kind=kind, source="bc", limit=1000)
    return [e for e in stored if e["data"].get("job_id") == job_id]


def test_schedule_rescan_and_model_change(service_sqlite: Harness, files: dict[str, Path]) -> None:
    service = service_sqlite
    answer = service.post(f"{API}/targets", json=_spec(files, schedule={"interval_s": 3600}))
    assert answer.status_code == 201, answer.text
    first = _one_job(service, "schedule")
    assert first["status"] == "completed", first["error"]
    campaign = service.state.store.get_campaign(first["campaign_id"])
    assert campaign is not None
    assert campaign["status"] == "completed"
    found = {f["fingerprint"] for f in campaign["findings"]}
    assert found
    assert (service.state.settings.reports_dir / first["id"] / "report.html").is_file()
    new = _events(service, "finding_new", first["id"])
    assert {e["data"]["fingerprint"] for e in new} == found
    assert {e["data"]["severity"] for e in new} <= {"info", "low", "medium", "high", "critical"}
    done = _events(service, "campaign_completed", first["id"])
    assert [(e["data"]["new"], e["data"]["reason"], e["stage"]) for e in done] == [
        (len(found), "schedule", "campaign")
    ]
    assert service.get(f"{API}/targets/bc").json()["next_run_at"] > first["finished_at"]

    manual = service.post(f"{API}/targets/bc/campaigns").json()
    second = service.state.worker.wait(manual["id"], 120)  # type: ignore[union-attr]
    assert second["status"] == "completed", second["error"]
    assert _events(service, "finding_new", second["id"]) == []
    again = _events(service, "campaign_completed", second["id"])
    assert [(e["data"]["new"], e["data"]["regressed"]) for e in again] == [(0, 0)]

    service.post(f"{API}/targets/bc/models", json={"path": str(files["v2"])})
    changed = _one_job(service, "model_change")
    assert changed["status"] == "completed", changed["error"]
    rescanned = service.state.store.get_campaign(changed["campaign_id"])
    assert rescanned is not None
    assert rescanned["campaign"]["config"]["model"] == str(files["v2"].resolve())
    assert len(service.get(f"{API}/jobs", params={"target": "bc"}).json()) == 3
    assert service.state.worker.tick() == []  # type: ignore[union-attr]


def test_failed_job_publishes_campaign_failed(
    service_sqlite: Harness, files: dict[str, Path]
) -> None:
    service = service_sqlite
    model = files["v1"].with_name("moving.joblib")
    model.write_bytes(files["v1"].read_bytes())
    assert service.post(f"{API}/targets", json=_spec(files, model=str(model))).status_code == 201
    model.unlink()
    job = service.post(f"{API}/targets/bc/campaigns").json()
    failed = service.state.worker.wait(job["id"], 60)  # type: ignore[union-attr]
    assert failed["status"] == "failed"
    assert failed["error"].startswith("model file not found")
    events = _events(service, "campaign_failed", job["id"])
    assert [e["data"]["error"] for e in events] == [failed["error"]]


def test_restart_recovery_requeues_and_completes_once(
    db_url: str, tmp_path: Path, files: dict[str, Path]
) -> None:
    with Store.open(db_url) as store:
        register(store, SYSTEM, TargetSpec.model_validate(_spec(files, probes=PROBES[:2])))
        dead = jobs.enqueue(store, "bc", "schedule")
        assert jobs.claim(store, "previous-process") is not None
        stale = store.start_campaign("bc", "sklearn", {})
        jobs.set_campaign(store, dead["id"], stale)
    for service in start_service(tmp_path / "home", db_url):
        old = service.get(f"{API}/jobs/{dead['id']}").json()
        assert (old["status"], old["error"]) == ("interrupted", jobs.RESTART_ERROR)
        again = service.get(f"{API}/jobs", params={"reason": "requeue"}).json()
        assert [j["requeued_from"] for j in again] == [dead["id"]]
        finished = service.state.worker.wait(again[0]["id"], 120)  # type: ignore[union-attr]
        assert finished["status"] == "completed", finished["error"]
        store = service.state.store
        assert store.get_campaign(stale)["error"] == jobs.RESTART_ERROR  # type: ignore[index]
        assert store.list_findings(campaign=stale, latest_only=False) == []
        rows = store.list_findings(campaign=finished["campaign_id"], latest_only=False)
        fingerprints = [f["fingerprint"] for f in rows]
        assert fingerprints
        assert len(fingerprints) == len(set(fingerprints))


def test_claims_are_atomic_on_both_stores(db_url: str) -> None:
    with Store.open(db_url) as store:
        ids = {jobs.enqueue(store, f"t{i}", "manual")["id"] for i in range(30)}
        taken: list[str] = []

        def work(name: str) -> None:
            while (job := jobs.claim(store, name)) is not None:
                taken.append(job["id"])

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(taken) == sorted(ids)
