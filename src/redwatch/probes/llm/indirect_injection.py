"""`llm.indirect_injection`: the attack hides in content the application hands the model,
a pasted or retrieved document or a tool result, while the user asks an innocent question
about it. Success: the reply (or a tool call) carries the marker the hidden text asked for."""

from __future__ import annotations

from typing import ClassVar

from redwatch.exceptions import UsageError
from redwatch.findings import Mitigation, Severity
from redwatch.probes.llm.common import LlmProbe, Outcome, Shot, guard_fix
from redwatch.probes.llm.direct_injection import injection_stage, marker_outcome
from redwatch.probes.llm.judges import Judges
from redwatch.probes.llm.tools import MOCK_TOOLS, READ_DOCUMENT, document_delivery

DELIVERIES = ("both", "document", "tool")


def pasted(request: str, document: str) -> str:
    """The user's request with the document pasted below it, fenced."""
    return f"{request}\n\nDocument:\n```\n{document}\n```"


class IndirectInjectionProbe(LlmProbe):
    """Poisoned documents, pasted into the user turn or returned by a read_document tool;
    params max_prompts, converters (applied to the document; default none), transcripts,
    delivery (both | document | tool; default both, alternating)."""

    name: ClassVar[str] = "llm.indirect_injection"
    references: ClassVar[tuple[str, ...]] = ("OWASP-LLM01", "AML.T0051.001", "NIST-MEASURE-2.7")
    description: ClassVar[str] = (
        "Indirect prompt injection through retrieved documents and tool results"
    )
    family: ClassVar[str] = "indirect_injection"
    headline: ClassVar[str] = "Indirect prompt injection"
    success_means: ClassVar[str] = (
        "the reply or a tool call carried the marker that text inside the document asked for"
    )
    base_severity: ClassVar[Severity] = Severity.HIGH

    def attempt(self, shot: Shot, judges: Judges) -> Outcome:
        """Deliver the document one way or the other and judge by the marker."""
        document = shot.text(shot.item.document or "")
        if self.via_tool(shot):
            talk = shot.conversation((READ_DOCUMENT, *MOCK_TOOLS))
            url = f"https://docs.acme.example/{shot.item.id.lower()}"
            reply = talk.send(*document_delivery(shot.item.prompt, document, url))
        else:
            talk = shot.conversation(MOCK_TOOLS)
            reply = talk.say(pasted(shot.item.prompt, document))
        return marker_outcome(shot, judges, talk, reply)

    @staticmethod
    def via_tool(shot: Shot) -> bool:
        """Whether this attempt returns the document as a tool result (stateful endpoints
        keep their own history, so they only get pasted documents)."""
        delivery = str(shot.params.get("delivery", "both"))
        if delivery not in DELIVERIES:
            raise UsageError(f"delivery: expected one of {', '.join(DELIVERIES)}, got {delivery}")
        if shot.target.stateful or delivery == "document":
            return False
        return delivery == "tool" or bool(shot.rng.random() < 0.5)

    def fixes(self) -> list[Mitigation]:
        """Scan tool results and documents too; restrict what injected text can trigger."""
        return [
            injection_stage(["user", "tool"]),
            guard_fix(
                "llm-tools",
                "Deny action tools the conversation did not need",
                "Retrieved text can ask for tool calls; an allow-list of tools and argument "
                "rules stop an injected instruction from becoming an action.",
                {"allow": ["read_document"], "action": "block"},
            ),
        ]
