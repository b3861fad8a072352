"""Chat targets for the LLM probe tests: the reference app's scripted assistant (a test
double with planted weaknesses) called in-process, an assistant that always refuses, and one
whose every reply a guard blocked."""

from __future__ import annotations

from typing import Any

from redwatch.findings import Finding
from redwatch.llm.chat import ChatReply, ChatRequest
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.llm.common import LlmProbe
from redwatch.targets.chat_base import ChatSetup, ChatTarget
from redwatch.targets.chat_callable import CallableChatTarget

REFUSAL = "I'm sorry, but I can't help with that."
BLOCK_REASON = "blocked by llm-injection: prompt injection score 0.97"


def scripted(setup: ChatSetup | None = None, name: str = "helpbot") -> CallableChatTarget:
    """The scripted assistant (redwatch.demo.chat_brain) as an in-process chat target."""
    from redwatch.demo.chat_brain import ScriptedAssistant

    return CallableChatTarget(ScriptedAssistant().reply, name=name, setup=setup)


def refusing(setup: ChatSetup | None = None) -> CallableChatTarget:
    """A safe assistant: refuses everything, calls no tool."""
    return CallableChatTarget(lambda request: ChatReply(REFUSAL), name="safe", setup=setup)


def blocked(setup: ChatSetup | None = None) -> CallableChatTarget:
    """A target behind a guard that blocks every call."""

    def refuse(request: ChatRequest) -> ChatReply:
        return ChatReply(finish_reason="blocked", blocked=BLOCK_REASON)

    return CallableChatTarget(refuse, name="guarded", setup=setup)


def run_probe(
    probe: type[LlmProbe], target: ChatTarget, seed: int = 0, **params: Any
) -> tuple[list[Finding], dict[str, Any]]:
    """Run a probe the way the engine does (query limit from the budget); findings and
    metrics."""
    budget = Budget(queries=params.pop("queries", 500))
    ctx = ProbeContext(x=_empty(), y=_empty(), budget=budget, seed=seed, params=params)
    with target.limit(budget.queries):
        findings = list(probe().run(target, ctx))
    return findings, ctx.metrics


def _empty() -> Any:
    import numpy as np

    return np.empty((0, 0))


def transcript_text(finding: Finding) -> str:
    """Every message of every transcript in a finding, as one string."""
    parts = []
    for item in finding.evidence:
        assert item.kind == "transcript"
        for message in item.data["messages"]:
            parts.append(str(message.get("content", "")))
            parts.extend(str(c) for c in message.get("tool_calls", []))
    return "\n".join(parts)
