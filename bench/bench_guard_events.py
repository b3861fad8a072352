"""What recording guard events costs: the serving thread's price per call, and how fast the
writer gets events into SQLite.

Run: python bench/bench_guard_events.py   → bench/results/guard_events.json

Measured on the caller's thread, one event per call (a guarded call rarely has more):
- `queue`: EventRecorder.__call__ while the writer thread stores batches in SQLite (the
  normal path: a deque append);
- `overflow`: the same call when the queue is full (one buffered JSON-line write from the
  caller, no fsync: the fallback that keeps events when the writer falls behind);
- `fsync_per_call`: what a durable write from the caller would cost (why the caller never
  does one).
Throughput: Store.add_events in batches of 256 (one transaction each), the recorder end to
end (first call to close), and replaying a spool file into an empty store.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, print_table, write_json
from redwatch.guard.recorder import EventRecorder
from redwatch.guard.spool import SpoolWriter, encode, replay_folder
from redwatch.guard.stage import Action, GuardEvent
from redwatch.store import Store

CALLS = 50_000
BATCH = 256
REPEATS = 3


def make_events(n: int) -> list[GuardEvent]:
    """Realistic events: a rate-limit block with its bucket data, from 50 clients."""
    return [
        GuardEvent(
            "ratelimit",
            "rate_limited",
            Action.BLOCK,
            "per-key bucket is empty",
            f"ip:10.0.{i % 50}.1",
            {"bucket": "key:3f2a", "retry_after": 0.5, "cost": 1},
        )
        for i in range(n)
    ]


def per_call_us(
    call: Callable[[list[GuardEvent]], None], events: list[GuardEvent]
) -> dict[str, float]:
    """Mean, median and p99 of one call per event, in microseconds."""
    samples = []
    clock = time.perf_counter_ns
    for event in events:
        batch = [event]
        start = clock()
        call(batch)
        samples.append(clock() - start)
    samples.sort()
    return {
        "mean_us": statistics.fmean(samples) / 1000,
        "median_us": samples[len(samples) // 2] / 1000,
        "p99_us": samples[int(len(samples) * 0.99)] / 1000,
    }


def bench_queue(folder: Path) -> dict[str, Any]:
    """The normal path, with the writer storing into SQLite at the same time."""
    url = f"sqlite:///{folder / 'queue.db'}"
    Store.open(url).close()
    events = make_events(CALLS)
    recorder = EventRecorder(url, folder / "spool-q", source="bench", batch_size=BATCH).start()
    start = time.perf_counter()
    cost = per_call_us(recorder, events)
    recorder.close(timeout_s=120)
    seconds = time.perf_counter() - start
    cost.update(
        end_to_end_events_per_s=CALLS / seconds,
        stored=recorder.stats.stored,
        spooled=recorder.stats.spooled,
        overflowed=recorder.stats.overflowed,
    )
    return cost


def bench_overflow(folder: Path) -> dict[str, Any]:
    """Every call spills (max_queued=0): the caller writes the JSON line itself."""
    recorder = EventRecorder(None, folder / "spool-o", source="bench", max_queued=0)
    cost = per_call_us(recorder, make_events(CALLS))
    recorder.close()
    return cost


def bench_fsync(folder: Path) -> dict[str, Any]:
    """A durable (fsync'ed) write per call, for comparison only."""
    writer = SpoolWriter(folder / "spool-f", "bench", "fsync", sync=True)
    events = make_events(2000)
    cost = per_call_us(
        lambda batch: writer.append([encode({**batch[0].to_dict(), "source": "bench"})]), events
    )
    writer.close()
    return cost


def bench_store(folder: Path) -> dict[str, Any]:
    """Store.add_events throughput in batches (one transaction each), best of REPEATS."""
    rates = []
    for repeat in range(REPEATS):
        with Store.open(f"sqlite:///{folder / f'store{repeat}.db'}") as store:
            events = make_events(CALLS)
            start = time.perf_counter()
            for i in range(0, CALLS, BATCH):
                store.add_events(events[i : i + BATCH], "bench")
            rates.append(CALLS / (time.perf_counter() - start))
    return {"events_per_s": max(rates), "batch": BATCH}


def bench_replay(folder: Path) -> dict[str, Any]:
    """Replaying one spool file of CALLS events into an empty SQLite store."""
    spool = folder / "spool-r"
    writer = SpoolWriter(spool, "bench", "writer", sync=True)
    records = [{**e.to_dict(), "source": "bench"} for e in make_events(CALLS)]
    for i in range(0, CALLS, BATCH):
        writer.append([json.dumps(r) for r in records[i : i + BATCH]])
    writer.close()
    with Store.open(f"sqlite:///{folder / 'replay.db'}") as store:
        start = time.perf_counter()
        report = replay_folder(spool, lambda rows: store.add_events(rows, "bench"))
        seconds = time.perf_counter() - start
    return {"events_per_s": report.stored / seconds, "events": report.events}


def main() -> None:
    """Run every measurement and write bench/results/guard_events.json."""
    with tempfile.TemporaryDirectory(prefix="rw-bench-events-") as tmp:
        folder = Path(tmp)
        caller = {
            "queue": bench_queue(folder),
            "overflow": bench_overflow(folder),
            "fsync_per_call": bench_fsync(folder),
        }
        store = {"add_events": bench_store(folder), "replay": bench_replay(folder)}
    rows = [{"path": name, **values} for name, values in caller.items()]
    print_table(rows, ["path", "mean_us", "median_us", "p99_us"])
    print(
        f"SQLite add_events: {store['add_events']['events_per_s']:.0f} events/s; "
        f"replay: {store['replay']['events_per_s']:.0f} events/s; recorder end to end: "
        f"{caller['queue']['end_to_end_events_per_s']:.0f} events/s"
    )
    payload = {
        "calls": CALLS,
        "caller": caller,
        "sqlite": store,
        "machine": machine_info(("sqlalchemy",)),
    }
    print(f"wrote {write_json('guard_events', payload)}")


if __name__ == "__main__":
    main()
