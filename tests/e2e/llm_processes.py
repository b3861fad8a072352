"""Background `redwatch` servers for the LLM e2e tests (the reference chat app, the chat
proxy): started on a free port, waited for until /healthz answers, always stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REDWATCH = str(Path(sys.executable).with_name("redwatch"))


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    args: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`redwatch ARGS` in the background until /healthz on `port` answers; terminated (and
    killed when it hangs) however the test ends."""
    with log.open("w") as sink:
        proc = subprocess.Popen([REDWATCH, *args], stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", proc, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `url` until it answers 200 (60 s at most); fail with the log if the process dies."""
    for _ in range(300):
        if proc.poll() is not None:
            pytest.fail(f"exited before serving (see {log.name}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"nothing answered at {url}: {log.read_text()[-2000:]}")
