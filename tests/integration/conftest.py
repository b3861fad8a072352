"""Real servers for the integration tests: a throw-away PostgreSQL on 127.0.0.1.

The server runs from Debian's binaries (scripts/test-services.sh installs them) as the
`postgres` user when the tests run as root, in a temporary folder removed afterwards.
Without the binaries the tests fail under CI and skip loudly elsewhere.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import PostgresServer

PG_MISSING = "PostgreSQL server binaries not found; run scripts/test-services.sh"
START_ATTEMPTS = 3


def _version(path: Path) -> tuple[int, ...]:
    """Numeric version from /usr/lib/postgresql/<version>/bin."""
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bin() -> Path | None:
    """Newest directory holding initdb and pg_ctl, or None."""
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    for directory in dirs:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    pg_ctl, initdb = shutil.which("pg_ctl"), shutil.which("initdb")
    if pg_ctl and initdb:
        return Path(pg_ctl).resolve().parent
    return None


def _unavailable(reason: str) -> None:
    """Fail under CI (where the server must exist), skip with the reason elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a server tool, capturing its output."""
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _prepare_base_dir(run_as: str | None) -> Path:
    """Temporary folder (under /tmp, reachable by the postgres user) owned by the server."""
    base = Path(tempfile.mkdtemp(prefix="redwatch-pg-"))
    if run_as:
        user = pwd.getpwnam(run_as)
        os.chown(base, user.pw_uid, user.pw_gid)
    return base


def _initdb(server: PostgresServer) -> None:
    """Create the cluster with trust authentication for local connections."""
    done = _run(
        server.command(
            "initdb",
            "-D",
            str(server.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
    )
    if done.returncode != 0:
        pytest.fail(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}", pytrace=False)


def _start(server: PostgresServer) -> bool:
    """Start the server on its port; False when it did not come up (e.g. port taken)."""
    options = (
        f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.base_dir}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    done = _run(
        server.command(
            "pg_ctl",
            "-D",
            str(server.data_dir),
            "-l",
            str(server.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
    )
    return done.returncode == 0


def _stop(server: PostgresServer) -> None:
    """Fast shutdown; the caller removes the files."""
    _run(server.command("pg_ctl", "-D", str(server.data_dir), "-m", "fast", "-w", "stop"))


def _log_tail(server: PostgresServer) -> str:
    """Last lines of the server log, for a failure message."""
    try:
        return " | ".join(server.log_file.read_text().strip().splitlines()[-5:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session, stopped and deleted at the end."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        _unavailable(PG_MISSING)
        raise AssertionError("unreachable")
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as and shutil.which("runuser") is None:
        _unavailable("PostgreSQL refuses to run as root and runuser is not available")
    base = _prepare_base_dir(run_as)
    server = PostgresServer(bin_dir=bin_dir, base_dir=base, port=_free_port(), run_as=run_as)
    try:
        _initdb(server)
        for _ in range(START_ATTEMPTS):
            if _start(server):
                break
            server = PostgresServer(bin_dir, base, _free_port(), run_as)
        else:
            pytest.fail(f"PostgreSQL did not start: {_log_tail(server)}", pytrace=False)
        yield server
    finally:
        _stop(server)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of the session's `redwatch_test` database."""
    postgres_server.execute("CREATE DATABASE redwatch_test")
    return postgres_server.url("redwatch_test")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of an empty database made for one test and dropped after it."""
    name = f"rw_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    yield postgres_server.url(name)
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
