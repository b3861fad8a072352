"""`redwatch serve` killed in the middle of a campaign and started again on the same store:
the interrupted job is marked, re-queued and completes once, with exactly the findings of
an uninterrupted run of the same spec and seed, each stored once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from redwatch.service.jobs import RESTART_ERROR
from redwatch.store.repository import Store

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REDWATCH = str(Path(sys.executable).with_name("redwatch"))
SPEC = {
    "name": "bc",
    "label": "diagnosis",
    "probes": ["evasion.noise", "evasion.sensitivity", "evasion.hopskipjump"],
    "params": {"evasion.hopskipjump": {"samples": 25, "max_queries": 500}},
    "budget_seconds": 300,
    "seed": 3,
}


@contextmanager
def _serve(
    env: dict[str, str], db_url: str, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real `redwatch serve` on a free port (output to `log`); the process and its URL."""
    seen = _listening(log)
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [REDWATCH, "serve", "--port", "0", "--tick", "0.5", "--db", db_url],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        lines = _until("the service to listen", lambda: _started(proc, log, seen), 120)
        yield proc, lines[-1].split("listening on ")[1].split()[0]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _listening(log: Path) -> list[str]:
    """The "listening on" lines the log holds so far."""
    text = log.read_text() if log.exists() else ""
    return [line for line in text.splitlines() if "listening on " in line]


def _started(proc: subprocess.Popen[bytes], log: Path, seen: list[str]) -> list[str] | None:
    """The log's listening lines once this process added one; AssertionError if it exited."""
    if proc.poll() is not None:
        raise AssertionError(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
    lines = _listening(log)
    return lines if len(lines) > len(seen) else None


def _until(what: str, check: Any, timeout_s: float = 240) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _client(url: str, headers: dict[str, str]) -> httpx.Client:
    """An HTTP client for the service with a patient timeout (2 shared cores)."""
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return dict(_until(f"job {job_id}", lambda: (j := _job(client, job_id))["finished_at"] and j))


def _fingerprints(store: Store, campaign_id: str) -> list[str]:
    rows = store.list_findings(campaign=campaign_id, latest_only=False)
    return [row["fingerprint"] for row in rows]


def test_restart_during_a_campaign_requeues_it_without_losing_findings(
    tmp_path: Path, gbm_files: tuple[Path, Path]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    made = subprocess.run(
        [REDWATCH, "keys", "create", "--name", "e2e", "--role", "admin", "--json", "--db", db_url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    headers = {"X-API-Key": json.loads(made.stdout)["key"]}
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
