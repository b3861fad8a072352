"""`redwatch serve` and `redwatch keys` end to end: the first-key hint on a fresh install,
keys made on the command line working against the running service (and audited as "cli"),
a clean stop on SIGTERM, one-line exit 2 on bad options, and 60 s of ingestion at
1,000 events/s with every event stored."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from redwatch.store import Store
from redwatch.store.models import EventRow

pytestmark = pytest.mark.e2e
REDWATCH = str(Path(sys.executable).with_name("redwatch"))
BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_service_ingest.py"


@contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`redwatch serve --port 0 --no-worker` in tmp_path's home, once it answers: the
    process (its first stdout line read) and the base URL."""
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home")}
    env.pop("REDWATCH_DB_URL", None)
    with (tmp_path / "serve.log").open("a") as log:
        proc = subprocess.Popen(
            [REDWATCH, "serve", "--port", "0", "--no-worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in first, first
        base = first.split("listening on ", 1)[1].split()[0]
        wait_healthy(base)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def wait_healthy(base: str) -> None:
    """Poll /healthz until the service answers (parts started)."""
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        subprocess.run(["sleep", "0.2"], check=True)
    raise AssertionError("the service never answered /healthz")


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, then the rest of stdout; asserts a clean exit 0."""
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    return rest


def test_first_key_hint_cli_keys_and_clean_stop(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with serving(tmp_path) as (proc, base):
        assert proc.stdout is not None
        assert "redwatch keys create --name NAME --role admin" in proc.stdout.readline()
        assert httpx.get(f"{base}/api/v1/keys").status_code == 401
        made = cli("keys", "create", "--name", "ops", "--role", "admin", "--json")
        assert made.code == 0, made.stderr
        admin = made.json()
        key = {"X-API-Key": admin["key"]}
        assert admin["created_by"] == "cli"
        audit = httpx.get(f"{base}/api/v1/audit", headers=key).json()
        assert [(a["action"], a["actor"]) for a in audit] == [("keys.create", "cli")]
        text = cli("keys", "create", "--name", "reader", "--role", "viewer")
        assert text.code == 0
        secret = text.stdout.splitlines()[1].strip()
        assert httpx.get(f"{base}/api/v1/events", headers={"X-API-Key": secret}).json() == []
        listed = cli("keys", "list", "--json").json()
        assert sorted(k["name"] for k in listed) == ["ops", "reader"]
        revoked = cli("keys", "revoke", admin["id"][:10])
        assert revoked.code == 0
        assert "revoked key" in revoked.stdout
        assert httpx.get(f"{base}/api/v1/audit", headers=key).status_code == 401
        assert "stopped" in stop(proc)
    assert cli("keys", "create", "--name", "ops2", "--role", "admin").code == 0
    with serving(tmp_path) as (proc, _):
        assert "no admin key" not in stop(proc)


def test_bad_options_are_one_line_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = [
            (("serve", "--port", port), f"127.0.0.1:{port} is already in use"),
            (("serve", "--executor", "spark"), "--executor must be local or ray"),
            (("serve", "--tick", "0"), "tick_s"),
            (("serve", "--alerts", "missing.yml"), "--alerts: no file missing.yml"),
            (("keys", "create", "--name", "x", "--role", "root"), "unknown role 'root'"),
            (("keys", "revoke", "nope"), "no API key nope"),
        ]
        for args, message in cases:
            run = cli(*args, timeout=60)
            assert run.code == 2, (args, run.stdout, run.stderr)
            assert message in run.stderr
            assert len(run.stderr.strip().splitlines()) == 1, run.stderr


@pytest.mark.slow
def test_sixty_seconds_at_1000_events_per_second_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    out = tmp_path / "ingest.json"
    args = [sys.executable, str(BENCH), "--seconds", "60", "--db", url, "--out", str(out)]
    done = subprocess.run(args, cwd=BENCH.parent, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())["result"]
    print(f"achieved {result['achieved_rate']} events/s, p99 {result['p99_ms']} ms")
    assert result["sent"] == 60_000
    assert result["errors"] == 0
    assert result["server_exit_code"] == 0
    with Store.open(url) as store, store.transaction("count") as session:
        stored = session.scalar(select(func.count()).where(EventRow.source == result["source"]))
    assert stored == result["sent"] == result["stored"]
