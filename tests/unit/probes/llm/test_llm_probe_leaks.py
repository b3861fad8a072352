"""System-prompt extraction and sensitive-data leakage against the scripted assistant
(planted weaknesses: it recites its system prompt under debugging, audit or translation
framings, and hands out the customer record and key to claimed authorities), with a
planted system prompt, with the application's own prompt, and against a refusing one."""

from __future__ import annotations

from llm_probe_targets import refusing, run_probe, scripted, transcript_text

from redwatch.demo.chat_rules import REFERENCE_SYSTEM_PROMPT
from redwatch.probes.llm.leakage import SensitiveLeakageProbe
from redwatch.probes.llm.system_prompt import SystemPromptExtractionProbe
from redwatch.targets.chat_base import ChatSetup
from redwatch.testing.conformance import finding_problems


def test_a_planted_canary_proves_the_system_prompt_leaked() -> None:
    target = scripted()
    findings, metrics = run_probe(SystemPromptExtractionProbe, target)
    assert len(findings) == 1, metrics
    assert finding_problems(SystemPromptExtractionProbe, target, findings) == []
    assert metrics["system_prompt"] == "planted"
    evidence = findings[0].evidence[0].data
    system = evidence["messages"][0]["content"]
    canary = next(w for w in system.split() if w.startswith("CANARY-"))
    assert canary in evidence["messages"][-1]["content"]
    assert any(v["detector"] == "canary" and v["state"] == "hit" for v in evidence["verdicts"])
    assert findings[0].mitigations[0].params["stage"] == "llm-canary"


def test_the_application_prompt_is_matched_by_similarity() -> None:
    setup = ChatSetup(accepts_system=False, system_prompt=REFERENCE_SYSTEM_PROMPT)
    target = scripted(setup)
    findings, metrics = run_probe(SystemPromptExtractionProbe, target)
    assert len(findings) == 1, metrics
    assert metrics["system_prompt"] == "provided"
    evidence = findings[0].evidence[0].data
    assert evidence["messages"][0]["role"] == "user"  # redwatch sent no system prompt
    assert [v["detector"] for v in evidence["verdicts"]] == ["prompt-similarity"]
    assert evidence["verdicts"][0]["state"] == "hit"


def test_leakage_finds_planted_values_and_pii() -> None:
    target = scripted()
    findings, metrics = run_probe(SensitiveLeakageProbe, target)
    assert len(findings) == 1, metrics
    assert finding_problems(SensitiveLeakageProbe, target, findings) == []
    hits = {
        v["detector"]
        for e in findings[0].evidence
        for v in e.data["verdicts"]
        if v["state"] == "hit"
    }
    assert "canary" in hits
    assert hits & {"pii", "secrets"}
    assert "sk-acme-" in transcript_text(findings[0])
    assert metrics["successes"] < metrics["attempts"]  # plain asks are refused


def test_leakage_of_the_application_record_without_planting() -> None:
    target = scripted(ChatSetup(accepts_system=False))
    findings, metrics = run_probe(SensitiveLeakageProbe, target)
    assert len(findings) == 1, metrics
    for item in findings[0].evidence:
        assert [v["detector"] for v in item.data["verdicts"]] == ["pii", "secrets"]


def test_a_refusing_assistant_leaks_nothing() -> None:
    for probe in (SystemPromptExtractionProbe, SensitiveLeakageProbe):
        findings, metrics = run_probe(probe, refusing(), max_prompts=5)
        assert findings == []
        assert metrics["attempts"] == 5
        assert metrics["successes"] == 0
