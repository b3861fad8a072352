"""A real `redwatch serve` for the end-to-end tests: started on a free port with its output
in a log file, ready once it printed "listening on", stopped with SIGTERM (killed when it
does not stop). Also the first key through `redwatch keys create`, an HTTP client, and
polling helpers. Imported by tests/e2e (the test's own folder is on sys.path)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REDWATCH = str(Path(sys.executable).with_name("redwatch"))
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@contextmanager
def serve(
    env: dict[str, str], db_url: str, log: Path, extra: Sequence[str] = ()
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real `redwatch serve` on a free port (output appended to `log`, `extra` options
    after the defaults); yields the process and its base URL, stops it on exit."""
    seen = listening(log)
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [REDWATCH, "serve", "--port", "0", "--tick", "0.5", "--db", db_url, *extra],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        lines = until("the service to listen", lambda: started(proc, log, seen), START_TIMEOUT_S)
        yield proc, lines[-1].split("listening on ")[1].split()[0]
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the service has not exited within STOP_TIMEOUT_S."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def listening(log: Path) -> list[str]:
    """The "listening on" lines the log holds so far."""
    text = log.read_text() if log.exists() else ""
    return [line for line in text.splitlines() if "listening on " in line]


def started(proc: subprocess.Popen[bytes], log: Path, seen: list[str]) -> list[str] | None:
    """The log's listening lines once this process added one; AssertionError if it exited."""
    if proc.poll() is not None:
        raise AssertionError(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
    lines = listening(log)
    return lines if len(lines) > len(seen) else None


def until(what: str, check: Callable[[], Any], timeout_s: float = 240, every_s: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


def create_key(env: dict[str, str], db_url: str, name: str = "e2e", role: str = "admin") -> str:
    """A new API key made with `redwatch keys create --json` on the store at `db_url`."""
    made = subprocess.run(
        [REDWATCH, "keys", "create", "--name", name, "--role", role, "--json", "--db", db_url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return str(json.loads(made.stdout)["key"])


def client(url: str, headers: dict[str, str]) -> httpx.Client:
    """An HTTP client for the service with a patient timeout (2 shared cores)."""
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    """GET /api/v1/jobs/{id}, asserting it answers."""
    answer = http.get(f"/api/v1/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def finished(http: httpx.Client, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    """The job document once the job has finished (completed, failed or interrupted)."""
    return dict(
        until(f"job {job_id}", lambda: (j := job(http, job_id))["finished_at"] and j, timeout_s)
    )
