"""A throw-away redis-server on 127.0.0.1 for the integration tests: Debian's binary
(package redis-server; scripts/test-services.sh installs it), no persistence, its files in
a temporary folder. Without the binary the tests fail, naming the package to install."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

REDIS_BINARY = Path("/usr/bin/redis-server")
MISSING = (
    "redis-server not found (/usr/bin/redis-server): install the Debian package "
    "redis-server, e.g. with scripts/test-services.sh"
)
START_ATTEMPTS = 3
READY_TIMEOUT_S = 15.0


@dataclass
class RedisServer:
    """A running test server: its process, port and folder."""

    process: subprocess.Popen[bytes]
    port: int
    base_dir: Path

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A plain client, for looking at the keys the backend wrote."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def stop(self) -> None:
        """Kill the server (as a crash would) and wait for it to be gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def redis_binary() -> Path:
    """The redis-server binary, or a loud test failure naming the package."""
    if REDIS_BINARY.is_file():
        return REDIS_BINARY
    found = shutil.which("redis-server")
    if found is None:
        pytest.fail(MISSING, pytrace=False)
    return Path(found)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def start_redis(base_dir: Path, port: int | None = None) -> RedisServer:
    """Start a server (on `port`, or a free one) and wait until it answers PING."""
    binary = redis_binary()
    base_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(START_ATTEMPTS):
        chosen = port or free_port()
        server = RedisServer(_launch(binary, chosen, base_dir), chosen, base_dir)
        if _ready(server):
            return server
        server.stop()
    log = base_dir / "redis.log"
    tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    pytest.fail(f"redis-server did not start: {' | '.join(tail)}", pytrace=False)


def _launch(binary: Path, port: int, base_dir: Path) -> subprocess.Popen[bytes]:
    """redis-server in the foreground, loopback only, without RDB or AOF files."""
    command = [
        str(binary),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(base_dir),
        "--logfile", str(base_dir / "redis.log"),
        "--daemonize", "no",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ready(server: RedisServer) -> bool:
    """True once the server answers PING; False when it exits or never answers."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=1)
    try:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if client.ping():
                    return True
            except redis.ConnectionError:
                time.sleep(0.05)
        return False
    finally:
        client.close()
