"""The job queue on a real SQLite store: one active job per target and reason, atomic
claims under concurrent workers, finishing, and recovery after a crash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from redwatch.exceptions import UsageError
from redwatch.service import jobs
from redwatch.store.repository import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'jobs.db'}") as opened:
        yield opened


def test_enqueue_keeps_one_active_job_per_target_reason_and_verified_object(store: Store) -> None:
    first = jobs.enqueue(store, "credit", "schedule", options={"seed": 1})
    again = jobs.enqueue(store, "credit", "schedule")
    assert again["id"] == first["id"]
    assert first["options"] == {"seed": 1}
    other = jobs.enqueue(store, "credit", "manual")
    verify_a = jobs.enqueue(store, "credit", "verify", verifies="fp-a")
    verify_b = jobs.enqueue(store, "credit", "verify", verifies="fp-b")
    assert len({first["id"], other["id"], verify_a["id"], verify_b["id"]}) == 4
    jobs.claim(store, "w1")
    assert jobs.finish(store, first["id"], "completed", campaign_id="c" * 32) is not None
    assert jobs.enqueue(store, "credit", "schedule")["id"] != first["id"]
    with pytest.raises(UsageError, match="unknown job reason 'whenever'"):
        jobs.enqueue(store, "credit", "whenever")


def test_claim_takes_the_oldest_job_once(store: Store) -> None:
    a = jobs.enqueue(store, "a", "manual")
    b = jobs.enqueue(store, "b", "manual")
    got = jobs.claim(store, "w1")
    assert got is not None
    assert got["id"] == a["id"]
    assert got["status"] == "running"
    assert got["worker"] == "w1"
    assert got["started_at"]
    assert jobs.claim(store, "w2") == {**b, **jobs.get_job(store, b["id"])}  # type: ignore[dict-item]
    assert jobs.claim(store, "w3") is None
    failed = jobs.finish(store, a["id"], "failed", error="model file not found: m.joblib")
    assert failed is not None
    assert (failed["status"], failed["error"]) == ("failed", "model file not found: m.joblib")
    assert failed["finished_at"]
    with pytest.raises(ValueError, match=r"cannot finish a job as .queued."):
        jobs.finish(store, b["id"], "queued")


def test_concurrent_workers_never_take_the_same_job(store: Store) -> None:
    ids = {jobs.enqueue(store, f"t{i}", "manual")["id"] for i in range(40)}
    taken: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := jobs.claim(store, name)) is not None:
            with lock:
                taken.append((job["id"], name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [job_id for job_id, _ in taken]
    assert sorted(claimed) == sorted(ids)
    assert len(claimed) == len(set(claimed))
    stored = jobs.list_jobs(store, status="running", limit=1000)
    assert {j["id"]: j["worker"] for j in stored} == dict(taken)


def test_recover_interrupts_running_jobs_and_requeues_them(store: Store) -> None:
    running = jobs.enqueue(store, "credit", "schedule", options={"budget_seconds": 5.0})
    waiting = jobs.enqueue(store, "other", "manual")
    assert jobs.claim(store, "dead-worker") is not None
    campaign = store.start_campaign("credit", "sklearn", {})
    jobs.set_campaign(store, running["id"], campaign)

    pairs = jobs.recover(store)

    assert [old for old, _ in pairs] == [running["id"]]
    old = jobs.get_job(store, running["id"])
    new = jobs.get_job(store, pairs[0][1])
    assert old is not None
    assert new is not None
    assert (old["status"], old["error"]) == ("interrupted", jobs.RESTART_ERROR)
    assert new["status"] == "queued"
    assert new["reason"] == "requeue"
    assert new["requeued_from"] == running["id"]
    assert new["options"] == {"budget_seconds": 5.0}
    assert new["target"] == "credit"
    stored = store.get_campaign(campaign)
    assert stored is not None
    assert (stored["status"], stored["error"]) == ("failed", jobs.RESTART_ERROR)
    assert jobs.get_job(store, waiting["id"])["status"] == "queued"  # type: ignore[index]
    assert jobs.recover(store) == []
    assert jobs.interrupt(store, waiting["id"], "stop") is None
