"""`redwatch serve` killed in the middle of a campaign and started again on the same store:
the interrupted job is marked, re-queued and completes once, with exactly the findings of
an uninterrupted run of the same spec and seed, each stored once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from service_process import client as _client
from service_process import create_key
from service_process import finished as _finished
from service_process import job as _job
from service_process import serve as _serve
from service_process import until as _until

from redwatch.service.jobs import RESTART_ERROR
from redwatch.store.repository import Store

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SPEC = {
    "name": "bc",
    "label": "diagnosis",
    "probes": ["evasion.noise", "evasion.sensitivity", "evasion.hopskipjump"],
    "params": {"evasion.hopskipjump": {"samples": 25, "max_queries": 500}},
    "budget_seconds": 300,
    "seed": 3,
}


def _fingerprints(store: Store, campaign_id: str) -> list[str]:
    rows = store.list_findings(campaign=campaign_id, latest_only=False)
    return [row["fingerprint"] for row in rows]


def test_restart_during_a_campaign_requeues_it_without_losing_findings(
    tmp_path: Path, gbm_files: tuple[Path, Path]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    headers = {"X-API-Key": create_key(env, db_url, "e2e", "admin")}
    model, data = gbm_files
    log = tmp_path / "serve.log"
    spec = {**SPEC, "model": str(model), "data": str(data)}

    with _serve(env, db_url, log) as (proc, url), _client(url, headers) as client:
        assert client.post("/api/v1/targets", json=spec).status_code == 201
        reference = _finished(client, client.post("/api/v1/targets/bc/campaigns").json()["id"])
        assert reference["status"] == "completed", reference["error"]
        victim = client.post("/api/v1/targets/bc/campaigns").json()
        assert victim["id"] != reference["id"]
        running = _until(
            "the campaign to start",
            lambda: (j := _job(client, victim["id"]))["campaign_id"] and j,
        )
        assert running["status"] == "running"
        proc.kill()
        proc.wait(30)

    with _serve(env, db_url, log) as (_, url), _client(url, headers) as client:
        interrupted = _job(client, victim["id"])
        assert (interrupted["status"], interrupted["error"]) == ("interrupted", RESTART_ERROR)
        requeued = client.get("/api/v1/jobs", params={"reason": "requeue"}).json()
        assert [j["requeued_from"] for j in requeued] == [victim["id"]]
        rerun = _finished(client, requeued[0]["id"])
        assert rerun["status"] == "completed", rerun["error"]

    with Store.open(db_url) as store:
        statuses = [(c["id"], c["status"]) for c in store.list_campaigns(target="bc")]
        assert statuses == [
            (rerun["campaign_id"], "completed"),
            (running["campaign_id"], "failed"),
            (reference["campaign_id"], "completed"),
        ]
        dead = store.get_campaign(running["campaign_id"])
        assert dead is not None
        assert dead["error"] == RESTART_ERROR
        assert _fingerprints(store, running["campaign_id"]) == []
        expected = _fingerprints(store, reference["campaign_id"])
        stored = _fingerprints(store, rerun["campaign_id"])
        assert expected
        assert sorted(stored) == sorted(expected)
        assert len(stored) == len(set(stored))
