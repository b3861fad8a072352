"""`redwatch guard chat-proxy` through the console script: every bad input is one line and
exit 2 before a port is bound; with its upstream down the proxy stays up, answers /healthz,
and refuses chat calls with a one-line 502 (which a scan reports as one line, exit 2)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llm_processes import free_port, serving

pytestmark = pytest.mark.e2e
POLICY = str(Path(__file__).parents[2] / "docs" / "examples" / "llm.policy.yaml")
UPSTREAM = "http://127.0.0.1:9/v1"  # never contacted by the bad-input cases
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Where is my order?"}]}


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def policies(tmp_path: Path) -> dict[str, str]:
    """Policy files with one mistake each."""
    return {
        "mixed": _write(
            tmp_path / "mixed.yaml",
            "stages:\n  - name: validate\n  - name: llm-canary\n    options: {canaries: [RW-X]}\n",
        ),
        "option": _write(
            tmp_path / "option.yaml", "stages:\n  - name: llm-output\n    options: {colour: red}\n"
        ),
        "rows": _write(tmp_path / "rows.yaml", "stages:\n  - name: validate\n"),
    }


@pytest.mark.parametrize(
    ("upstream", "policy", "needle"),
    [
        (UPSTREAM, "missing.yaml", "missing.yaml: file not found"),
        (UPSTREAM, "mixed", "mixes prediction stages with chat stages"),
        (UPSTREAM, "option", "stage llm-output: colour"),
        (UPSTREAM, "rows", "has no llm-* stages"),
        ("ftp://127.0.0.1:9/v1", POLICY, "http(s) base URL"),
        ("http://127.0.0.1:9/v1/chat/completions", POLICY, "not an endpoint"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(
    cli: Any, policies: dict[str, str], upstream: str, policy: str, needle: str
) -> None:
    path = policies.get(policy, policy)
    run = cli("guard", "chat-proxy", "--upstream", upstream, "--policy", path, "--port", "0",
              timeout=120)  # fmt: skip
    assert run.code == 2, (run.stdout, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert needle in run.stderr
    assert "chat proxy on" not in run.stdout + run.stderr
    if policy in policies:
        assert path in run.stderr  # the message names the policy file


@pytest.fixture
def orphan_proxy(tmp_path: Path) -> Iterator[str]:
    """The proxy in front of a port where nothing listens; its base URL once /healthz
    answers; terminated after the test."""
    port, dead = free_port(), free_port()
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    log = tmp_path / "proxy.log"
    cmd = ["guard", "chat-proxy", "--upstream", f"http://127.0.0.1:{dead}/v1",
           "--policy", POLICY, "--port", str(port), "--timeout", "5"]  # fmt: skip
    with serving(cmd, port, log, env):
        yield f"http://127.0.0.1:{port}"


@pytest.mark.slow
def test_upstream_down_is_a_one_line_502_and_healthz_stays_up(cli: Any, orphan_proxy: str) -> None:
    health = httpx.get(f"{orphan_proxy}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}

    answer = httpx.post(f"{orphan_proxy}/v1/chat/completions", json=CHAT, timeout=30)
    assert answer.status_code == 502, answer.text
    assert len(answer.text.strip().splitlines()) == 1, answer.text
    error = json.loads(answer.text)["error"]
    assert "unreachable" in error["message"]
    assert "\n" not in error["message"]
    models = httpx.get(f"{orphan_proxy}/v1/models", timeout=30)
    assert models.status_code == 502, models.text

    run = cli("scan", f"{orphan_proxy}/v1", "--kind", "chat", "--chat-model", "m",
              "--probe", "llm.direct_injection", "--timeout", "10", timeout=120)  # fmt: skip
    assert run.code == 2, (run.stdout, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "502" in run.stderr
    assert httpx.get(f"{orphan_proxy}/healthz", timeout=10).status_code == 200
