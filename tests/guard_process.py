"""`redwatch guard ...` run in the background for the end-to-end and live-server tests:
stdout lines arrive through a thread (so that waiting for the ready line can time out),
stderr goes to a file. Imported by tests/e2e and tests/integration (which put this folder
on sys.path, as for integrity_corpus)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REDWATCH = str(Path(sys.executable).with_name("redwatch"))
READY = re.compile(r"^redwatch guard: serving on (http://\S+) ")


class GuardProcess:
    """One `redwatch guard` process; `seen` holds the stdout lines read up to the ready line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.stderr_path = cwd / "guard.stderr"
        self.lines: queue.Queue[str | None] = queue.Queue()
        with self.stderr_path.open("w") as stderr:
            self.proc = subprocess.Popen(
                [REDWATCH, "guard", *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        threading.Thread(target=self._pump, daemon=True).start()
        self.seen: list[str] = []

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def ready_url(self, timeout: float = 120) -> str:
        """The URL of the ready line; fails with stderr when the process ends first."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no ready line within {timeout} s: {self.stderr()}")
            if line is None:
                pytest.fail(f"guard exited ({self.proc.wait()}) before serving: {self.stderr()}")
            self.seen.append(line)
            match = READY.match(line)
            if match:
                return match.group(1)

    def rest_of_stdout(self) -> list[str]:
        """Every stdout line after the ready line (call once the process has ended)."""
        lines = []
        while (line := self.lines.get(timeout=10)) is not None:
            lines.append(line)
        return lines

    def stderr(self, tail: int | None = None) -> str:
        """What the process wrote to stderr (the last `tail` characters when given)."""
        text = self.stderr_path.read_text(encoding="utf-8")
        return text if tail is None else text[-tail:]

    def stop(self) -> int:
        """SIGTERM and the exit code (SIGKILL, and a failure, when it hangs)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"guard did not stop within 30 s of SIGTERM: {self.stderr()}")

    def shutdown(self) -> None:
        """For teardown: SIGTERM if still running, SIGKILL if it hangs; never fails."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
