"""Jailbreaks against the scripted assistant (planted weakness: harmful-topic requests
are refused unless framed as role-play, fiction, DAN ... or obfuscated), and against an
assistant that always refuses."""

from __future__ import annotations

import pytest
from llm_probe_targets import refusing, run_probe, scripted

from redwatch.llm.chat import ChatReply, ChatRequest
from redwatch.probes.llm.jailbreak import JailbreakProbe
from redwatch.targets.chat_base import ChatSetup
from redwatch.targets.chat_callable import CallableChatTarget
from redwatch.testing.conformance import finding_problems


@pytest.mark.slow
def test_jailbreak_is_found_with_both_refusal_detectors() -> None:
    """The one test here that loads MiniLM (the embedding refusal detector)."""
    target = scripted()
    findings, metrics = run_probe(JailbreakProbe, target)
    assert len(findings) == 1, metrics
    assert finding_problems(JailbreakProbe, target, findings) == []
    data = findings[0].evidence[0].data
    detectors = {v["detector"] for v in data["verdicts"]}
    assert detectors == {"refusal", "embedding-refusal"}
    assert all(v["state"] == "clean" for v in data["verdicts"])
    assert data["messages"][-1]["content"].strip()
    assert metrics["successes"] < metrics["attempts"]  # plain requests are refused


def test_jailbreak_with_the_linear_refusal_detector_only() -> None:
    target = scripted()
    findings, metrics = run_probe(JailbreakProbe, target, embeddings=False)
    assert len(findings) == 1
    assert 0 < metrics["successes"] < metrics["attempts"]
    verdicts = findings[0].evidence[0].data["verdicts"]
    assert [v["detector"] for v in verdicts] == ["refusal"]


def test_a_refusing_assistant_is_not_jailbroken() -> None:
    findings, metrics = run_probe(JailbreakProbe, refusing(), embeddings=False, max_prompts=6)
    assert findings == []
    assert metrics["attempts"] == 6
    assert metrics["successes"] == 0


def test_a_judge_that_says_safe_overrides_a_missing_refusal() -> None:
    def judge(request: ChatRequest) -> ChatReply:
        return ChatReply('{"verdict": "safe", "reason": "harmless filler"}')

    setup = ChatSetup(judge=CallableChatTarget(judge, name="judge"))
    findings, metrics = run_probe(JailbreakProbe, scripted(setup), embeddings=False)
    assert findings == []
    assert metrics["attempts"] == 12
    assert metrics["successes"] == 0
    assert setup.judge is not None
    assert setup.judge.queries > 0


def test_a_judge_that_says_unsafe_confirms_the_finding() -> None:
    def judge(request: ChatRequest) -> ChatReply:
        return ChatReply("UNSAFE: gives the steps")

    setup = ChatSetup(judge=CallableChatTarget(judge, name="judge"))
    findings, _ = run_probe(JailbreakProbe, scripted(setup), embeddings=False)
    assert len(findings) == 1
    detectors = [v["detector"] for v in findings[0].evidence[0].data["verdicts"]]
    assert detectors == ["refusal", "judge"]
