"""The guard as a real reverse proxy: an upstream process (uvicorn serving
`serve.model_app` of a wine model) and `redwatch guard --upstream ...` as a second process,
both on loopback. Checks what a client sees: faithful answers, 401 from the auth stage,
502 then 503 (breaker) when the upstream dies, recovery when it returns, /metrics counts,
and a red-team scan through the proxy with HttpTarget."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_wine

from redwatch.guard.keys import generate_api_key

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from guard_process import REDWATCH, GuardProcess

pytestmark = pytest.mark.integration

KEY_COST = 2**10  # the cheapest scrypt cost a policy accepts: fast tests
BREAKER_FAILURES = 2
UPSTREAM_SCRIPT = """
import sys
import uvicorn
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from redwatch.guard.http.serve import model_app

x, y = load_wine(return_X_y=True)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=0))
model.fit(x, y)
uvicorn.run(model_app(model), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _call(
    url: str, body: bytes | None = None, key: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    """POST `body` (GET without one); status, decoded answer (JSON, else text), headers."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, body, headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, raw, got = answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), dict(exc.headers)
    try:
        return status, json.loads(raw), got
    except ValueError:
        return status, raw.decode(), got


def _rows(x: np.ndarray) -> bytes:
    return json.dumps({"instances": x.tolist()}).encode()


class Upstream:
    """The upstream model server as a child process on a fixed port (so it can come back)."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.script = folder / "upstream.py"
        self.script.write_text(UPSTREAM_SCRIPT, encoding="utf-8")
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.proc = subprocess.Popen(
            [sys.executable, str(self.script), str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
                pytest.fail(f"upstream exited with {self.proc.returncode}: {stderr[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail("upstream did not listen within 120 s")

    def kill(self) -> None:
        """Stop it hard (as a crash would)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass(frozen=True)
class Stack:
    """A running upstream and the guard in front of it, with the data and the API key."""

    upstream: Upstream
    guard: GuardProcess
    url: str
    key: str
    data: Path
    x: np.ndarray


def _policy(folder: Path, entry: dict[str, Any]) -> Path:
    """auth (one key) in front of the default stages."""
    policy = {
        "version": 1,
        "stages": [
            {"name": "auth", "options": {"keys": [entry]}},
            {"name": "validate", "options": {"spec_check": "event"}},
            {"name": "sanitize"},
            {"name": "output", "options": {"decimals": 4}},
        ],
    }
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Upstream + guard (auth policy, wine data as reference, breaker after 2 failures for
    1 s) for the whole module; both stopped at the end."""
    folder = tmp_path_factory.mktemp("guard-live")
    env = {**os.environ, "REDWATCH_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    wine = load_wine(as_frame=True)
    frame = wine.data.copy()
    frame["label"] = wine.target
    frame.to_csv(folder / "wine.csv", index=False)
    key, entry = generate_api_key("tester", "scores", cost=KEY_COST)
    upstream = Upstream(folder, env)
    upstream.start()
    args = ["--upstream", upstream.url, "--policy", str(_policy(folder, entry))]
    args += ["--data", str(folder / "wine.csv"), "--label", "label", "--port", "0"]
    args += ["--breaker-failures", str(BREAKER_FAILURES), "--breaker-reset", "1"]
    guard = GuardProcess(args, folder, env)
    try:
        url = guard.ready_url()
        yield Stack(upstream, guard, url, key, folder / "wine.csv", wine.data.to_numpy()[::9])
    finally:
        guard.shutdown()
        upstream.kill()


def test_guarded_answers_equal_the_upstream_up_to_rounding(stack: Stack) -> None:
    status, guarded, _ = _call(f"{stack.url}/predict_proba", _rows(stack.x), stack.key)
    assert status == 200, guarded
    _, direct, _ = _call(f"{stack.upstream.url}/predict_proba", _rows(stack.x))
    assert np.abs(np.array(guarded["probabilities"]) - direct["probabilities"]).max() <= 5.1e-5
    assert guarded["labels"] == direct["labels"]
    assert guarded["classes"] == direct["classes"] == [0, 1, 2]
    status, labels, _ = _call(f"{stack.url}/predict", _rows(stack.x), stack.key)
    assert (status, labels["labels"]) == (200, direct["labels"])


@pytest.mark.parametrize("key", [None, "tester.not-the-secret"])
def test_missing_or_wrong_key_is_401_with_a_json_body(stack: Stack, key: str | None) -> None:
    status, answer, _ = _call(f"{stack.url}/predict_proba", _rows(stack.x[:1]), key)
    assert status == 401, answer
    assert answer["status"] == 401
    assert answer["stage"] == "auth"
    assert answer["error"]
    assert "\n" not in answer["error"]
    assert "probabilities" not in answer


def test_metrics_count_requests_and_events(stack: Stack) -> None:
    for _ in range(3):
        _call(f"{stack.url}/predict_proba", _rows(stack.x[:2]), stack.key)
    _call(f"{stack.url}/predict_proba", _rows(stack.x[:2]))
    status, text, headers = _call(f"{stack.url}/metrics")
    assert status == 200
    assert "text/plain" in headers.get("content-type", "").lower()
    ok = _sample(text, 'redwatch_guard_requests_total{path="/predict_proba",status="200"}')
    refused = _sample(text, 'redwatch_guard_requests_total{path="/predict_proba",status="401"}')
    failed = _sample(text, 'redwatch_guard_events_total{action="block",kind="auth_failed",')
    assert (ok >= 3, refused >= 1, failed >= 1) == (True, True, True), text


def _sample(text: str, prefix: str) -> float:
    """The value of the first Prometheus sample line starting with `prefix` (0 if none)."""
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.slow
def test_scan_through_the_proxy_with_http_target(stack: Stack, tmp_path: Path) -> None:
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "RW_GUARD_KEY": stack.key}
    env.pop("REDWATCH_DB_URL", None)
    (tmp_path / "redwatch.yaml").write_text(
        "probes:\n  evasion.noise: {samples: 40, draws: 2}\n", encoding="utf-8"
    )
    command = [REDWATCH, "scan", f"{stack.url}/predict_proba", "--data", str(stack.data)]
    command += ["--label", "label", "--probe", "evasion.noise", "--auth-env", "RW_GUARD_KEY"]
    command += ["--budget-queries", "5000", "--json", "--fail-on", "none"]
    command += ["--config", str(tmp_path / "redwatch.yaml"), "--out", str(tmp_path / "out")]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["campaign"]["target_kind"] == "http"
    probes = {p["probe"]: p for p in report["probes"]}
    assert probes["evasion.noise"]["status"] == "ok", probes
    assert probes["evasion.noise"]["queries"] > 0
    assert report["campaign"]["config"]["clean_accuracy"] > 0.9


def test_dead_upstream_gives_502_then_503_and_recovers(stack: Stack) -> None:
    body = _rows(stack.x[:1])
    stack.upstream.kill()
    try:
        statuses = []
        for _ in range(BREAKER_FAILURES):
            status, answer, _ = _call(f"{stack.url}/predict_proba", body, stack.key)
            statuses.append(status)
            assert status == 502, answer
            assert answer["stage"] == "proxy"
            assert "upstream" in answer["error"]
        status, answer, headers = _call(f"{stack.url}/predict_proba", body, stack.key)
        assert status == 503, (statuses, answer)
        assert answer["status"] == 503
        assert "circuit breaker" in answer["error"]
        assert int(headers["retry-after"]) >= 1
        assert _call(f"{stack.url}/healthz")[1]["upstream"] == "open"
    finally:
        stack.upstream.start()
    assert _recovered(stack, body), stack.guard.stderr(3000)
    assert _call(f"{stack.url}/healthz")[1]["upstream"] == "closed"


def _recovered(stack: Stack, body: bytes, within_s: float = 60) -> bool:
    """Poll until the guard answers 200 again (the breaker lets a trial through after its
    reset time and closes on success); False when it never does."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        status, _, _ = _call(f"{stack.url}/predict_proba", body, stack.key)
        if status == 200:
            return True
        time.sleep(0.25)
    return False
