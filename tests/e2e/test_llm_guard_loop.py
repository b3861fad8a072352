"""The issue's done-when through the real console scripts: `redwatch scan URL --kind chat`
finds every planted weakness of the reference chat app (a scripted test double) with
transcripts, and the same scan through `redwatch guard chat-proxy` (the documented policy)
reports the output, leakage, system-prompt and agency findings fixed, fewer successes in
every family, and block events recorded by the guard. Prints the per-probe table."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from llm_processes import free_port, serving

from redwatch.llm.promptset import FAMILIES

pytestmark = pytest.mark.e2e
POLICY = Path(__file__).parents[2] / "docs" / "examples" / "llm.policy.yaml"
# What the guard's policy blocks today; injection and jailbreak families only get fewer.
FIXED = {"insecure_output", "sensitive_leakage", "system_prompt_extraction", "excessive_agency"}


def _config(path: Path) -> Path:
    """A small budget per probe; the MiniLM refusal classifier is left out where the probe
    would load it (the linear refusal classifier still judges every reply)."""
    quick = {"jailbreak", "escalation"}
    lines = ["probes:"] + [
        f"  llm.{f}: {{max_prompts: 12{', embeddings: false' if f in quick else ''}}}"
        for f in FAMILIES
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _scan(cli: Any, url: str, out: str, config: Path) -> dict[str, Any]:
    """`redwatch scan URL --kind chat --name helpbot` with every LLM probe; report.json."""
    probes = [arg for f in FAMILIES for arg in ("--probe", f"llm.{f}")]
    run = cli(
        "scan", url, "--kind", "chat", "--name", "helpbot", *probes, "--config", str(config),
        "--format", "json", "--out", out, "--fail-on", "none", timeout=300,
    )  # fmt: skip
    assert run.code == 0, run.stderr[-3000:]
    report: dict[str, Any] = json.loads(
        (config.parent / out / "report.json").read_text(encoding="utf-8")
    )
    return report


def _successes(report: dict[str, Any]) -> dict[str, int]:
    """Successful attempts per family (every probe must have run)."""
    runs = {p["probe"]: p for p in report["probes"]}
    assert {name: p["status"] for name, p in runs.items()} == {
        f"llm.{f}": "ok" for f in FAMILIES
    }, report["probes"]
    return {f: int(runs[f"llm.{f}"]["metrics"]["successes"]) for f in FAMILIES}


def _table(bare: dict[str, Any], guarded: dict[str, Any], fixed: set[str]) -> str:
    """Per-probe successes/attempts, bare vs through the guard, and the diff status."""

    def cells(report: dict[str, Any]) -> dict[str, str]:
        return {
            p["probe"]: f"{p['metrics']['successes']}/{p['metrics']['attempts']}"
            for p in report["probes"]
        }

    left, right = cells(bare), cells(guarded)
    status = {f["probe"]: f["status"] for f in guarded["findings"]}
    rows = [f"{'probe':30} {'bare':>7} {'guarded':>8}  diff"]
    for family in FAMILIES:
        probe = f"llm.{family}"
        mark = "fixed" if family in fixed else status.get(probe, "-")
        rows.append(f"{probe:30} {left[probe]:>7} {right[probe]:>8}  {mark}")
    return "\n".join(rows)


def _check_bare(report: dict[str, Any]) -> None:
    """Every family is a finding with at least one transcript that holds a conversation."""
    found = {f["probe"]: f for f in report["findings"]}
    assert sorted(found) == sorted(f"llm.{f}" for f in FAMILIES)
    for family in FAMILIES:
        transcripts = [e for e in found[f"llm.{family}"]["evidence"] if e["kind"] == "transcript"]
        assert transcripts, family
        roles = {m["role"] for m in transcripts[0]["data"]["messages"]}
        assert {"user", "assistant"} <= roles, family
        assert transcripts[0]["data"]["verdicts"], family


def _events(cli: Any, db: Path, source: str) -> list[dict[str, Any]]:
    """The proxy's events, read back through `redwatch guard events`."""
    run = cli(
        "guard", "events", "--json", "--source", source, "--limit", "100000",
        extra_env={"REDWATCH_DB_URL": f"sqlite:///{db}"}, timeout=120,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    events: list[dict[str, Any]] = json.loads(run.stdout)
    return events


@pytest.mark.slow
def test_guard_in_front_of_the_reference_app_fixes_its_findings(
    cli: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_port, proxy_port = free_port(), free_port()
    db = tmp_path / "guard-events.db"
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    app = ["llm", "reference-app", "--port", str(app_port)]
    proxy = [
        "guard", "chat-proxy", "--upstream", f"http://127.0.0.1:{app_port}/v1",
        "--policy", str(POLICY), "--port", str(proxy_port), "--db", f"sqlite:///{db}",
    ]  # fmt: skip
    config = _config(tmp_path / "redwatch.yaml")
    with (
        serving(app, app_port, tmp_path / "app.log", env),
        serving(proxy, proxy_port, tmp_path / "proxy.log", env) as guard,
    ):
        bare = _scan(cli, f"http://127.0.0.1:{app_port}/v1", "bare", config)
        guarded = _scan(cli, f"http://127.0.0.1:{proxy_port}/v1", "guarded", config)
        guard.terminate()  # SIGTERM flushes the recorded events to the store
        assert guard.wait(timeout=30) == 0, (tmp_path / "proxy.log").read_text()[-2000:]

    fixed = {x["probe"].removeprefix("llm.") for x in guarded["fixed"]}
    events = _events(cli, db, f"guard-chat@127.0.0.1:{proxy_port}")
    blocks = Counter(e["stage"] for e in events if e["action"] == "block")
    with capsys.disabled():
        print(f"\n{_table(bare, guarded, fixed)}\nguard block events by stage: {dict(blocks)}")

    _check_bare(bare)
    before, after = _successes(bare), _successes(guarded)
    assert fixed >= FIXED, _table(bare, guarded, fixed)
    still = {f["probe"].removeprefix("llm.") for f in guarded["findings"]}
    assert not FIXED & still
    assert all(after[f] == 0 for f in FIXED), after
    assert all(after[f] < before[f] for f in FAMILIES), (before, after)
    # every attempt the guard refused is at least one block event in the store
    refused = sum(int(p["metrics"].get("blocked", 0)) for p in guarded["probes"])
    assert refused > 0
    assert sum(blocks.values()) >= refused, (refused, blocks)
    assert blocks["llm-injection"] > 0, blocks
