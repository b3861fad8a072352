"""Event ingestion into the real service: `redwatch serve` (uvicorn, its own process, store
under a temporary home) takes POST /api/v1/events batches from one client thread that paces
itself by the wall clock (default 50 events every 50 ms = 1,000 events/s) for 60 s.

Reported: events sent, stored (counted in the database afterwards), lost (sent - stored),
the achieved rate (sent / wall time of the sending), and p50 / p99 batch latency. There is
no peer: the figure is the issue's goal (sustained 1,000 events/s for 60 s, 0 lost).

    python bench/bench_service_ingest.py            # 60 s -> bench/results/service_ingest.json
    python bench/bench_service_ingest.py --quick    # 10 s -> service_ingest_quick.json
    python bench/bench_service_ingest.py --db postgresql+psycopg://...   # on PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, select

from _common import machine_info, write_json
from redwatch.store import Store
from redwatch.store.models import EventRow

REDWATCH = str(Path(sys.executable).with_name("redwatch"))
KINDS = ("intrusion", "anomaly", "extraction", "rate_limited", "invalid_input")
START_TIMEOUT_S = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s instead of 60 s")
    parser.add_argument("--seconds", type=float, default=None, help="sending time (s)")
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--batch", type=int, default=50, help="events per POST")
    parser.add_argument("--db", default=None, help="store URL (default: SQLite, temp home)")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: results/)")
    return parser.parse_args(argv)


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run `redwatch ARGS`; its stdout (RuntimeError with stderr when it fails)."""
    done = subprocess.run([REDWATCH, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"redwatch {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def start_server(env: dict[str, str], db: str) -> tuple[subprocess.Popen[str], str]:
    """`redwatch serve --port 0` and its base URL, read from the line it prints."""
    proc = subprocess.Popen(
        [REDWATCH, "serve", "--port", "0", "--db", db],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on " not in line:
        proc.kill()
        raise RuntimeError(f"redwatch serve did not start: {line!r}")
    base = line.split("listening on ", 1)[1].split()[0]
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2.0).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("redwatch serve did not answer /healthz")


def make_batch(run: str, start: int, size: int, now: float) -> list[dict[str, Any]]:
    """`size` guard events with ids unique to this run."""
    return [
        {
            "id": f"{run}-{start + i}",
            "timestamp": now,
            "stage": "proxy",
            "kind": KINDS[(start + i) % len(KINDS)],
            "action": "block" if (start + i) % 3 == 0 else "allow",
            "client": f"ip:10.0.0.{(start + i) % 250}",
            "detail": "bench event",
            "data": {"n": start + i, "score": 0.5},
        }
        for i in range(size)
    ]


def send(base: str, key: str, seconds: float, rate: int, batch: int) -> dict[str, Any]:
    """Post batches paced by the wall clock; counts, errors and per-batch latencies."""
    run = uuid.uuid4().hex[:12]
    interval = batch / rate
    total_batches = round(seconds * rate / batch)
    latencies: list[float] = []
    sent = reported = errors = 0
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30.0) as client:
        began = time.monotonic()
        for index in range(total_batches):
            delay = began + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            events = make_batch(run, index * batch, batch, time.time())
            t0 = time.perf_counter()
            response = client.post("/api/v1/events", json={"source": run, "events": events})
            latencies.append(time.perf_counter() - t0)
            sent += len(events)
            if response.status_code == 201:
                reported += int(response.json()["stored"])
            else:
                errors += 1
        elapsed = time.monotonic() - began
    ms = np.asarray(latencies) * 1000.0
    return {
        "source": run,
        "sent": sent,
        "stored_reported": reported,
        "errors": errors,
        "send_seconds": round(elapsed, 3),
        "achieved_rate": round(sent / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def count_stored(db: str, source: str) -> int:
    """Events of `source` in the database (read after the server stopped)."""
    with Store.open(db) as store, store.transaction("count bench events") as session:
        return int(session.scalar(select(func.count()).where(EventRow.source == source)) or 0)


def measure(seconds: float, rate: int, batch: int, db: str | None, home: Path) -> dict[str, Any]:
    """One full run: key, server, sending, clean stop, count."""
    url = db or f"sqlite:///{home / 'redwatch.db'}"
    env = {**os.environ, "REDWATCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    options = ("--name", "bench", "--role", "analyst", "--db", url, "--json")
    key = json.loads(run_cli(env, "keys", "create", *options))["key"]
    proc, base = start_server(env, url)
    try:
        figures = send(base, key, seconds, rate, batch)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    stored = count_stored(url, figures["source"])
    return {
        **figures,
        "stored": stored,
        "lost": figures["sent"] - stored,
        "target_rate": rate,
        "batch": batch,
        "seconds": seconds,
        "database": url.split(":", 1)[0],
        "server_exit_code": code,
    }


def main(argv: list[str] | None = None) -> None:
    """Run, print and write the figure."""
    args = parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    with tempfile.TemporaryDirectory(prefix="rw-ingest-") as home:
        result = measure(seconds, args.rate, args.batch, args.db, Path(home))
    result["goal_met"] = result["lost"] == 0 and result["achieved_rate"] >= 0.95 * args.rate
    payload = {"result": result, "machine": machine_info(("fastapi", "uvicorn", "sqlalchemy"))}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        path = args.out
    else:
        path = write_json("service_ingest_quick" if args.quick else "service_ingest", payload)
    print(json.dumps(result, indent=2, sort_keys=True))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
