"""EventRecorder, spool files and `redwatch guard events/replay` on SQLite: every event lands
in the store exactly once, through outages, full queues, closes and corrupt spool lines."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from _guard_models import wine_case
from sqlalchemy import select
from typer.testing import CliRunner

from redwatch.cli import guard_events_cmd
from redwatch.exceptions import StoreError, UsageError
from redwatch.guard import GuardedModel, parse_policy
from redwatch.guard.events import fanout
from redwatch.guard.recorder import EventRecorder
from redwatch.guard.spool import SpoolWriter, pending_files, replay_file, replay_folder
from redwatch.guard.stage import Action, GuardEvent
from redwatch.store import Store
from redwatch.store.models import EventRow

FAST = {"flush_interval_s": 0.02, "retry_interval_s": 0.05, "store_timeout_s": 0.1}


def make_events(n: int, start: int = 0, kind: str = "intrusion") -> list[GuardEvent]:
    """n distinct events from five clients."""
    return [
        GuardEvent("auth", kind, Action.BLOCK, f"event {i}", f"ip:10.0.0.{i % 5}", {"i": i})
        for i in range(start, start + n)
    ]


def stored_ids(url: str) -> list[str]:
    """Every stored event id, repetitions included."""
    with Store.open(url) as store, store.engine.connect() as conn:
        return list(conn.scalars(select(EventRow.id)))


def spool_files(folder: Path) -> list[str]:
    """Names of the replayable spool files left in a folder."""
    return [p.name for p in pending_files(folder)]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """An SQLite store, created and migrated."""
    url = f"sqlite:///{tmp_path / 'db' / 'redwatch.db'}"
    Store.open(url).close()
    return url


def stream(recorder: EventRecorder, events: list[GuardEvent]) -> None:
    """Feed events one call at a time, as serving would, letting the writer run now and then."""
    for i, event in enumerate(events):
        recorder([event])
        if i % 250 == 0:
            time.sleep(0.005)


def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    """Synchronise with the writer thread (not a timing assertion: the deadline only turns a
    hang into a loud failure)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.01)


def test_events_of_a_guarded_model_reach_the_store(db_url: str, tmp_path: Path) -> None:
    wine = wine_case()
    policy = parse_policy(
        {"stages": [{"name": "validate", "options": {"spec_check": "event"}}]}, "test"
    )
    recorder = EventRecorder(db_url, tmp_path / "spool", source="model", **FAST).start()
    guarded = GuardedModel(wine.model, policy, wine.spec, sink=recorder)
    rows = wine.x[:20].copy()
    rows[:, 0] = wine.spec.upper[0] * 10  # every row breaks the spec: recorded, not refused
    expected = []
    for start in range(0, 20, 4):
        guarded.predict(rows[start : start + 4], client="ip:192.0.2.7")
        expected.extend(e.id for e in guarded.last_events)
    recorder.close()
    assert expected
    with Store.open(db_url) as store:
        stored = store.list_events(client="ip:192.0.2.7", limit=1000)
    assert sorted(r["id"] for r in stored) == sorted(expected)
    assert {r["source"] for r in stored} == {"model"}
    assert recorder.stats.stored == len(expected)
    assert spool_files(tmp_path / "spool") == []


def test_locked_sqlite_outage_loses_nothing_and_stores_each_event_once(
    db_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    database = db_url.removeprefix("sqlite:///")
    lock = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    events = make_events(5000)
    recorder = EventRecorder(db_url, spool, source="proxy", batch_size=128, **FAST).start()
    stream(recorder, events[:1000])
    lock.execute("BEGIN EXCLUSIVE")  # writers now wait store_timeout_s, then fail
    stream(recorder, events[1000:2500])
    wait_until(lambda: recorder.stats.spooled > 0, "the recorder to spool during the outage")
    stream(recorder, events[2500:3500])
    lock.execute("COMMIT")
    stream(recorder, events[3500:])
    recorder.close()
    lock.close()
    ids = stored_ids(db_url)
    assert len(ids) == len(set(ids)) == 5000
    assert set(ids) == {e.id for e in events}
    assert recorder.stats.spooled > 0, "the outage never reached the recorder"
    assert recorder.stats.replayed >= recorder.stats.spooled
    assert recorder.stats.lost == 0
    assert spool_files(spool) == []
    print(f"\nSQLite outage: {recorder.stats.to_dict()}")


def test_store_unreachable_at_start_then_restored(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.write_text("not a folder")  # the database's folder cannot exist: open fails
    url = f"sqlite:///{folder / 'redwatch.db'}"
    events = make_events(600)
    recorder = EventRecorder(url, tmp_path / "spool", source="proxy", **FAST).start()
    stream(recorder, events[:400])
    wait_until(lambda: recorder.stats.spooled > 0, "the recorder to spool")
    folder.unlink()
    folder.mkdir()
    stream(recorder, events[400:])
    recorder.close()
    ids = stored_ids(url)
    assert sorted(ids) == sorted(e.id for e in events)
    assert recorder.stats.spooled > 0
    assert spool_files(tmp_path / "spool") == []


def test_close_while_down_leaves_the_spool_for_the_next_process(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.write_text("not a folder")
    url = f"sqlite:///{folder / 'redwatch.db'}"
    spool = tmp_path / "spool"
    events = make_events(300)
    first = EventRecorder(url, spool, source="proxy", **FAST).start()
    first(events[:200])
    first.close()
    first(events[200:])  # after close: straight to the spool, never lost
    assert first.stats.stored == 0
    assert first.stats.spooled + first.stats.overflowed == 300
    spooled = [
        json.loads(line) for p in pending_files(spool) for line in p.read_text().splitlines()
    ]
    assert sorted(r["id"] for r in spooled) == sorted(e.id for e in events)
    folder.unlink()
    Store.open(url).close()
    second = EventRecorder(url, spool, source="proxy", **FAST).start()
    second.close()
    assert sorted(stored_ids(url)) == sorted(e.id for e in events)
    assert second.stats.replayed == 300
    assert spool_files(spool) == []


CRASHING_PROCESS = """
import os, sys, time
from pathlib import Path
from redwatch.guard.recorder import EventRecorder
from redwatch.guard.stage import Action, GuardEvent

recorder = EventRecorder(None, Path(sys.argv[1]), source="crash", batch_size=50,
                         flush_interval_s=0.01, max_queued=300)
for i in range(1000):  # 300 queued, 700 written to the overflow file by this thread
    recorder([GuardEvent("auth", "auth_failed", Action.BLOCK, "x", "ip:1", {}, id=f"{i:032x}")])
recorder.start()  # the writer spools the 300
while recorder.stats.spooled + recorder.stats.overflowed < 1000:
    time.sleep(0.01)
os._exit(9)  # killed: no close, no flush, files still open and locked until now
"""


def test_a_killed_process_leaves_a_spool_the_next_one_replays(db_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_PROCESS, str(spool)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 9, done.stderr[-2000:]
    assert len(spool_files(spool)) >= 2  # the writer's file and the callers' overflow file
    recorder = EventRecorder(db_url, spool, source="next", **FAST).start()
    recorder.close()
    assert sorted(stored_ids(db_url)) == [f"{i:032x}" for i in range(1000)]
    assert recorder.stats.replayed == 1000
    assert spool_files(spool) == []


def test_full_queue_spills_from_the_caller_and_nothing_is_lost(db_url: str, tmp_path: Path) -> None:
    recorder = EventRecorder(db_url, tmp_path / "spool", source="proxy", max_queued=50, **FAST)
    events = make_events(500)
    for event in events:  # writer not started yet: the queue fills, the rest spills
        recorder([event])
    assert recorder.pending == 50
    assert recorder.stats.overflowed == 450
    assert len(spool_files(tmp_path / "spool")) == 1
    recorder.start()
    recorder.close()
    assert sorted(stored_ids(db_url)) == sorted(e.id for e in events)
    assert spool_files(tmp_path / "spool") == []


def test_never_started_recorder_spools_its_queue_at_close(tmp_path: Path) -> None:
    recorder = EventRecorder(None, tmp_path / "spool", source="proxy")
    recorder(make_events(10))
    recorder.close()
    assert recorder.stats.overflowed == 10
    assert sum(len(p.read_text().splitlines()) for p in pending_files(tmp_path / "spool")) == 10


def test_the_call_never_raises_and_bad_data_is_kept_as_text(db_url: str, tmp_path: Path) -> None:
    recorder = EventRecorder(db_url, tmp_path / "spool", source="proxy", **FAST).start()
    recorder(None)  # type: ignore[arg-type]
    recorder([42])  # type: ignore[list-item]
    odd = GuardEvent("detect", "anomaly", Action.BLOCK, "odd", data={"score": np.float32(0.5)})
    nan = GuardEvent("detect", "anomaly", Action.BLOCK, "nan", data={"score": float("nan")})
    recorder([odd, nan])
    recorder.close()
    with Store.open(db_url) as store:
        rows = {r["detail"]: r["data"] for r in store.list_events()}
    assert set(rows) == {"odd", "nan"}
    assert rows["odd"] == {"unserialisable": "{'score': np.float32(0.5)}"}
    assert rows["nan"] == {"unserialisable": "{'score': nan}"}


def test_store_url_none_spools_and_replay_stores_later(db_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    events = make_events(700)
    with EventRecorder(None, spool, source="edge", batch_size=100, **FAST) as recorder:
        recorder(events)
    assert recorder.stats.spooled == 700
    with Store.open(db_url) as store:
        report = replay_folder(spool, lambda rows: store.add_events(rows, "replay"), batch_size=64)
        again = store.add_events(events, "other")
        sources = {r["source"] for r in store.list_events(limit=1000)}
    assert (report.files, report.events, report.stored, report.bad) == (1, 700, 700, 0)
    assert again == 0
    assert sources == {"edge"}
    assert spool_files(spool) == []


def test_corrupt_lines_go_to_a_bad_file_and_never_block_replay(db_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    events = make_events(5)
    lines = [json.dumps({**e.to_dict(), "source": "proxy"}) for e in events]
    torn = lines[4][: len(lines[4]) // 2]  # half-written at a crash, no newline
    bad_json = '{"id": "x", "kind": NaN}'
    not_event = json.dumps({"hello": "world"})
    path = spool / "events-20250101-proxy-1-writer-00000.jsonl"
    path.write_text("\n".join([lines[0], bad_json, lines[1], "", not_event, *lines[2:4], torn]))
    with Store.open(db_url) as store:
        report = replay_file(path, lambda rows: store.add_events(rows, "replay"))
    assert (report.files, report.events, report.stored, report.bad) == (1, 4, 4, 3)
    assert not path.exists()
    bad = path.with_name(path.name + ".bad").read_text().splitlines()
    assert bad == [bad_json, not_event, torn]
    assert sorted(stored_ids(db_url)) == sorted(e.id for e in events[:4])
    assert spool_files(spool) == []


def test_failed_replay_keeps_the_file_and_a_second_replay_is_harmless(
    db_url: str, tmp_path: Path
) -> None:
    writer = SpoolWriter(tmp_path, "proxy", "writer", sync=True)
    events = make_events(30)
    writer.append([json.dumps({**e.to_dict(), "source": "proxy"}) for e in events])
    writer.close()
    (path,) = pending_files(tmp_path)
    with Store.open(db_url) as store:
        pushed: list[int] = []

        def push_then_fail(rows: list[dict[str, Any]]) -> int:
            if pushed:
                raise StoreError("cannot store events: server closed the connection")
            pushed.append(len(rows))
            return store.add_events(rows, "replay")

        with pytest.raises(StoreError):
            replay_file(path, push_then_fail, batch_size=10)
        assert path.exists()
        report = replay_file(path, lambda rows: store.add_events(rows, "replay"), batch_size=10)
    assert (report.events, report.stored) == (30, 20)
    assert sorted(stored_ids(db_url)) == sorted(e.id for e in events)


def test_a_file_still_being_written_is_not_replayed(db_url: str, tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, "proxy", "overflow", sync=False)
    writer.append([json.dumps({**e.to_dict(), "source": "proxy"}) for e in make_events(3)])
    with Store.open(db_url) as store:
        push = lambda rows: store.add_events(rows, "replay")  # noqa: E731
        busy = replay_folder(tmp_path, push)
        assert (busy.busy, busy.files) == (1, 0)
        writer.close()
        done = replay_folder(tmp_path, push)
    assert (done.busy, done.files, done.stored) == (0, 1, 3)


def test_spool_files_rotate_by_day_and_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redwatch.guard.spool as spool_module

    days = iter(["20250101", "20250101", "20250102", "20250102", "20250102"])
    monkeypatch.setattr(spool_module, "_day", lambda: next(days))
    writer = SpoolWriter(tmp_path, "proxy/1", "writer", sync=True, max_bytes=100)
    writer.append(["a" * 10])
    writer.append(["b" * 10])
    writer.append(["c" * 10])  # new day: new file
    writer.append(["d" * 120])
    writer.append(["e" * 10])  # the file passed max_bytes: new file
    writer.close()
    files = pending_files(tmp_path)
    assert [p.read_text() for p in files] == [
        "a" * 10 + "\n" + "b" * 10 + "\n",
        "c" * 10 + "\n" + "d" * 120 + "\n",
        "e" * 10 + "\n",
    ]
    assert [p.name.split("-")[1] for p in files] == ["20250101", "20250102", "20250102"]
    assert all(f"proxy_1-{os.getpid()}-writer" in p.name for p in files)


def test_fanout_isolates_a_failing_sink(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    def broken(events: list[GuardEvent]) -> None:
        raise RuntimeError("sink down")

    sink = fanout(broken, lambda events: seen.append(len(events)))
    sink(make_events(3))
    sink(make_events(2))
    assert seen == [3, 2]
    assert sink.failures == [2, 0]  # type: ignore[attr-defined]
    assert sum("sink down" in r.getMessage() for r in caplog.records) == 1


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The two commands on a throw-away Typer group, with the store at db_url."""
    monkeypatch.setenv("REDWATCH_DB_URL", db_url)
    app = typer.Typer()
    app.command("events")(guard_events_cmd.events)
    app.command("replay")(guard_events_cmd.replay)
    return app


def test_cli_replay_then_events(cli: typer.Typer, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with EventRecorder(None, spool, source="edge", **FAST) as recorder:
        recorder(make_events(6) + make_events(2, start=6, kind="anomaly"))
    runner = CliRunner()
    done = runner.invoke(cli, ["replay", str(spool)])
    assert done.exit_code == 0, done.output
    assert "replayed 8 event(s) from 1 file(s): 8 new, 0 already stored" in done.output
    listed = runner.invoke(cli, ["events", "--kind", "anomaly", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["detail"] for r in rows] == ["event 7", "event 6"]
    table = runner.invoke(cli, ["events", "--since", "1h", "--limit", "3"], env={"COLUMNS": "200"})
    assert "3 event(s)" in table.output
    assert "intrusion" in table.output or "anomaly" in table.output


def test_cli_errors_are_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"spool folder .* does not exist"):
        guard_events_cmd.replay(tmp_path / "nowhere", 10)
    with pytest.raises(UsageError, match="--since must be a duration"):
        guard_events_cmd.parse_since("last tuesday")
    assert guard_events_cmd.parse_since("2025-01-01T00:00:00").tzinfo is not None


def test_serving_threads_and_the_writer_together(db_url: str, tmp_path: Path) -> None:
    recorder = EventRecorder(db_url, tmp_path / "spool", source="proxy", batch_size=64, **FAST)
    recorder.start()
    batches = [make_events(200, start=200 * t) for t in range(4)]

    def serve(events: list[GuardEvent]) -> None:
        for event in events:
            recorder([event])

    threads = [threading.Thread(target=serve, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    assert sorted(stored_ids(db_url)) == sorted(e.id for b in batches for e in b)
