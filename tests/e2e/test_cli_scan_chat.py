"""`redwatch scan URL --kind chat` against the reference chat app served by
`redwatch llm reference-app` (a scripted test double) in a subprocess: every planted
weakness is a finding with transcripts, the CI exit code is 1, SARIF cites OWASP LLM ids;
bad command lines and an unreachable endpoint are one line and exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_processes import free_port, serving

from redwatch.llm.promptset import FAMILIES

pytestmark = pytest.mark.e2e

OWASP = {
    "direct_injection": "OWASP-LLM01",
    "indirect_injection": "OWASP-LLM01",
    "system_prompt_extraction": "OWASP-LLM07",
    "sensitive_leakage": "OWASP-LLM02",
    "excessive_agency": "OWASP-LLM06",
    "insecure_output": "OWASP-LLM05",
}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reference app on a free port; its base URL once /healthz answers."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    with serving(["llm", "reference-app", "--port", str(port)], port, log):
        yield f"http://127.0.0.1:{port}/v1"


def _small_config(path: Path) -> Path:
    """Few prompts per probe, enough to reach every planted weakness; the MiniLM refusal
    classifier is left out (its own tests load it), the linear one judges refusals."""
    quick = {"jailbreak", "escalation"}
    lines = ["probes:"] + [
        f"  llm.{f}: {{max_prompts: 8{', embeddings: false' if f in quick else ''}}}"
        for f in FAMILIES
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_scan_finds_every_planted_weakness_with_transcripts(
    cli: Any, app_url: str, tmp_path: Path
) -> None:
    config = _small_config(tmp_path / "redwatch.yaml")
    run = cli(
        "scan", app_url, "--kind", "chat", "--format", "json,html,sarif", "--fail-on", "high",
        "--out", "rep", "--config", str(config), "--name", "helpbot",
    )  # fmt: skip
    assert run.code == 1, run.stderr[-3000:]
    assert "findings at or above high: exit 1" in run.stderr
    report = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    campaign = report["campaign"]
    assert campaign["target_kind"] == "chat"
    assert campaign["config"]["adapter"] == "openai"
    assert campaign["config"]["model"] == "acme-helpbot"
    ran = {p["probe"]: p["status"] for p in report["probes"]}
    assert ran == {f"llm.{f}": "ok" for f in FAMILIES}, report["probes"]
    found = {f["probe"]: f for f in report["findings"]}
    assert sorted(found) == sorted(f"llm.{f}" for f in FAMILIES)
    for family in FAMILIES:
        finding = found[f"llm.{family}"]
        transcripts = [e for e in finding["evidence"] if e["kind"] == "transcript"]
        assert transcripts, family
        roles = [m["role"] for m in transcripts[0]["data"]["messages"]]
        assert "user" in roles, family
        assert "assistant" in roles, family
        assert transcripts[0]["data"]["verdicts"], family
        if family in OWASP:
            assert OWASP[family] in finding["references"], family
    calls = found["llm.excessive_agency"]["evidence"][0]["data"]["messages"]
    assert any(m.get("tool_calls") for m in calls)

    sarif = json.loads((tmp_path / "rep" / "report.sarif").read_text(encoding="utf-8"))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    tags = {t for r in rules.values() for t in r["properties"]["tags"]}
    assert {"OWASP-LLM01", "OWASP-LLM02", "OWASP-LLM05", "OWASP-LLM06", "OWASP-LLM07"} <= tags
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == set(found)
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert 'class="msg role-assistant"' in html
    assert "<script" not in html.lower()  # insecure-output replies are shown escaped


@pytest.mark.slow
def test_app_owned_system_prompt_attacker_and_config_file(
    cli: Any, app_url: str, tmp_path: Path
) -> None:
    shown = cli("llm", "reference-app", "--show-system-prompt")
    assert shown.code == 0, shown.stderr
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "deployed.txt").write_text(shown.stdout, encoding="utf-8")
    config = tmp_path / "redwatch.yaml"
    config.write_text(
        "chat: {system_prompt_file: prompts/deployed.txt, max_turns: 3}\n"
        "probes:\n"
        "  llm.system_prompt_extraction: {max_prompts: 12}\n"
        "  llm.escalation: {max_prompts: 2, embeddings: false}\n",
        encoding="utf-8",
    )
    run = cli(
        "scan", app_url, "--kind", "chat", "--app-system-prompt", "--attacker", app_url,
        "--probe", "llm.system_prompt_extraction", "--probe", "llm.escalation",
        "--config", str(config), "--json", "--fail-on", "none",
    )  # fmt: skip
    assert run.code == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    config_seen = report["campaign"]["config"]
    assert config_seen["sets_system_prompt"] is False
    assert config_seen["system_prompt_given"] is True
    assert config_seen["attacker"] == f"attacker {app_url}"
    assert config_seen["max_turns"] == 3
    runs = {p["probe"]: p for p in report["probes"]}
    assert {p["status"] for p in runs.values()} == {"ok"}, report["probes"]
    assert runs["llm.system_prompt_extraction"]["metrics"]["system_prompt"] == "provided"
    leaked = [f for f in report["findings"] if f["probe"] == "llm.system_prompt_extraction"]
    assert leaked, runs["llm.system_prompt_extraction"]["metrics"]
    first = leaked[0]["evidence"][0]["data"]["messages"]
    assert first[0]["role"] == "user"  # redwatch sent no system prompt of its own


def test_unreachable_endpoint_is_one_line_and_exit_2(cli: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    run = cli("scan", url, "--kind", "chat", "--timeout", "2")
    assert run.code == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "127.0.0.1" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "chat", "--data", "rows.csv"], "--data cannot be used with --kind chat"),
        (["--kind", "chat", "--label", "y", "--trust-model"], "--label, --trust-model cannot"),
        (["--kind", "image"], "unknown --kind 'image'"),
        (["--chat-model", "gpt"], "--chat-model need --kind chat"),
        (["--kind", "model"], "--data is required"),
        (["--kind", "chat", "--attacker-model", "m"], "--attacker-model needs --attacker URL"),
    ],
)
def test_bad_command_lines_are_one_line_and_exit_2(cli: Any, args: list[str], message: str) -> None:
    run = cli("scan", "http://127.0.0.1:9/v1", *args)
    assert run.code == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert message in run.stderr
