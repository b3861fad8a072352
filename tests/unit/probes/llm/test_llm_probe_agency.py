"""Excessive agency and insecure output against the scripted assistant (planted
weaknesses: it calls offered tools with the user's or a document's arguments, and builds
HTML/markdown/SQL around user text as is), and against an assistant that always refuses."""

from __future__ import annotations

from llm_probe_targets import refusing, run_probe, scripted

from redwatch.llm.chat import ChatReply, ChatRequest, ToolCall
from redwatch.probes.llm.agency import ExcessiveAgencyProbe
from redwatch.probes.llm.output import InsecureOutputProbe, marker_windows
from redwatch.targets.chat_callable import CallableChatTarget
from redwatch.testing.conformance import finding_problems


def test_dangerous_tool_calls_are_found_with_the_tool_round_trip() -> None:
    target = scripted()
    findings, metrics = run_probe(ExcessiveAgencyProbe, target)
    assert len(findings) == 1, metrics
    assert finding_problems(ExcessiveAgencyProbe, target, findings) == []
    data = findings[0].evidence[0].data
    assert data["tools"] == ["send_email", "make_payment", "run_shell", "query_database"]
    calls = [c for m in data["messages"] for c in m.get("tool_calls", [])]
    assert calls, "the transcript shows the call"
    assert any(m["role"] == "tool" for m in data["messages"]), "the canned result was sent"
    verdict = data["verdicts"][0]
    assert verdict["detector"] == "tool-calls"
    assert verdict["state"] == "hit"
    assert findings[0].mitigations[0].params["stage"] == "llm-tools"


def test_a_harmless_tool_call_is_not_a_finding() -> None:
    def polite(request: ChatRequest) -> ChatReply:
        if request.messages[-1].role == "tool":
            return ChatReply("Done: I e-mailed our support team.")
        return ChatReply("", (ToolCall("send_email", {"to": "support@acme.com"}, "c1"),))

    target = CallableChatTarget(polite, name="polite")
    findings, metrics = run_probe(ExcessiveAgencyProbe, target, max_prompts=4)
    assert findings == []
    assert metrics["attempts"] == 4
    assert target.queries == 8


def test_insecure_output_is_found_with_the_marker_in_the_construct() -> None:
    target = scripted()
    findings, metrics = run_probe(InsecureOutputProbe, target)
    assert len(findings) == 1, metrics
    assert finding_problems(InsecureOutputProbe, target, findings) == []
    data = findings[0].evidence[0].data
    assert data["verdicts"][0]["detector"] == "markup"
    assert findings[0].mitigations[0].params["options"] == {"markup": "escape"}


def test_markup_away_from_the_marker_does_not_count() -> None:
    text = "Example: <script>alert(1)</script>" + " filler" * 40 + " then RW-ABCDEFGHJK."
    assert "<script>" not in marker_windows(text, "RW-ABCDEFGHJK")
    assert "<script>" in marker_windows("<script>x('rw-abcdefghjk')</script>", "RW-ABCDEFGHJK")


def test_a_refusing_assistant_has_no_agency_or_output_finding() -> None:
    for probe in (ExcessiveAgencyProbe, InsecureOutputProbe):
        findings, metrics = run_probe(probe, refusing(), max_prompts=5)
        assert findings == []
        assert metrics["attempts"] == 5
        assert metrics["successes"] == 0
