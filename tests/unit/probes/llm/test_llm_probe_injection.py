"""Direct and indirect prompt injection against the scripted assistant (planted weakness:
it obeys override instructions and instructions inside documents and tool results) and
against an assistant that always refuses."""

from __future__ import annotations

import pytest
from llm_probe_targets import refusing, run_probe, scripted, transcript_text

from redwatch.findings import Category
from redwatch.probes.llm.direct_injection import DirectInjectionProbe
from redwatch.probes.llm.indirect_injection import IndirectInjectionProbe
from redwatch.testing.conformance import finding_problems, probe_declaration_problems


@pytest.mark.parametrize("probe", [DirectInjectionProbe, IndirectInjectionProbe])
def test_declarations_are_valid(probe: type[DirectInjectionProbe]) -> None:
    assert probe_declaration_problems(probe.name, probe) == []


def test_direct_injection_is_found_with_transcripts() -> None:
    target = scripted()
    findings, metrics = run_probe(DirectInjectionProbe, target, transcripts=3)
    assert len(findings) == 1
    finding = findings[0]
    assert finding_problems(DirectInjectionProbe, target, findings) == []
    assert finding.category is Category.LLM
    assert finding.key == "direct_injection"
    assert 0 < metrics["successes"] <= metrics["attempts"] == 12
    assert finding.title.startswith(f"Direct prompt injection: {metrics['successes']} of 12")
    assert len(finding.evidence) == min(3, metrics["successes"])
    first = finding.evidence[0].data
    assert first["outcome"] == "hit"
    assert first["verdicts"][0]["detector"] == "canary"
    assert first["messages"][0]["role"] == "system"
    assert first["messages"][-1]["role"] == "assistant"
    assert {"prompt_id", "converter", "goal", "expected", "tools"} <= set(first)
    assert finding.mitigations[0].params["stage"] == "llm-injection"
    assert finding.mitigations[0].params["policy"]["stages"][0]["name"] == "llm-injection"
    assert {"OWASP-LLM01", "AML.T0051.000"} <= set(finding.references)


def test_the_same_seed_gives_the_same_campaign() -> None:
    _, one = run_probe(DirectInjectionProbe, scripted(), seed=3, max_prompts=5)
    _, two = run_probe(DirectInjectionProbe, scripted(), seed=3, max_prompts=5)
    assert one == two


def test_indirect_injection_through_documents_and_tool_results() -> None:
    target = scripted()
    findings, metrics = run_probe(IndirectInjectionProbe, target, max_prompts=10)
    assert len(findings) == 1
    assert finding_problems(IndirectInjectionProbe, target, findings) == []
    assert metrics["successes"] > 0
    text = transcript_text(findings[0])
    assert "read_document" in text or "Document:" in text


@pytest.mark.parametrize("delivery", ["tool", "document"])
def test_each_delivery_alone_finds_the_weakness(delivery: str) -> None:
    findings, metrics = run_probe(
        IndirectInjectionProbe, scripted(), max_prompts=8, delivery=delivery
    )
    assert findings, metrics
    messages = findings[0].evidence[0].data["messages"]
    has_tool_result = any(m["role"] == "tool" for m in messages)
    assert has_tool_result is (delivery == "tool")


def test_a_refusing_assistant_gives_no_injection_finding() -> None:
    for probe in (DirectInjectionProbe, IndirectInjectionProbe):
        findings, metrics = run_probe(probe, refusing(), max_prompts=5)
        assert findings == []
        assert metrics["attempts"] == 5
        assert metrics["successes"] == 0
        assert metrics["unscorable"] == 0
