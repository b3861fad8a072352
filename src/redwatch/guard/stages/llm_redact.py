"""llm-redact: find personal data and secrets (e-mail, phone, cards, IBAN, SSN, IPs, API
keys, tokens, passwords) in what a chat call sends and what the model answers, and replace
each with "[REDACTED:<KIND>]" or refuse the call. The regexes are compiled once by
`redwatch.llm.detectors.patterns`; a call costs one scan per message read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field

from redwatch.exceptions import UsageError
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)
from redwatch.llm.chat import ChatRequest, Message
from redwatch.llm.detectors.patterns import (
    ALL_KINDS,
    PII_KINDS,
    SECRET_KINDS,
    Span,
    find_spans,
    replace_spans,
)
from redwatch.llm.detectors.patterns import redact as redact_text

GROUPS = {"pii": PII_KINDS, "secrets": SECRET_KINDS}
Role = Literal["user", "tool", "system", "assistant"]


def _default_roles() -> list[Role]:
    """The messages a client or a tool controls."""
    return ["user", "tool"]


class LlmRedactOptions(StageOptions):
    """Which kinds (names from patterns, or the groups `pii` / `secrets`), which direction,
    which request roles, and whether to rewrite or refuse."""

    kinds: list[str] = Field(default_factory=lambda: ["pii", "secrets"], min_length=1)
    direction: Literal["request", "response", "both"] = "both"
    action: Literal["redact", "block"] = "redact"
    roles: list[Role] = Field(default_factory=_default_roles, min_length=1)
    keep_prompt_values: bool = True
    status: int = Field(default=403, ge=400, le=499)


class LlmRedactStage(GuardStage):
    """Redact (or block on) PII and secrets in prompts and replies. A value the client itself
    wrote in the request is not a leak, so by default the reply may repeat it."""

    name: ClassVar[str] = "llm-redact"
    description: ClassVar[str] = (
        "Redact or block PII and secrets in chat prompts and replies (regex + checksums)."
    )
    options_model: ClassVar[type[StageOptions]] = LlmRedactOptions
    domain: ClassVar[str] = "chat"
    options: LlmRedactOptions
    kinds: tuple[str, ...]

    def check(self) -> None:
        """Expand the kind groups once; UsageError naming an unknown kind."""
        kinds: list[str] = []
        for name in self.options.kinds:
            if name in GROUPS:
                kinds.extend(GROUPS[name])
            elif name in ALL_KINDS:
                kinds.append(name)
            else:
                known = ", ".join(("pii", "secrets", *ALL_KINDS))
                raise UsageError(f"stage {self.name}: unknown kind {name!r}; known: {known}")
        self.kinds = tuple(dict.fromkeys(kinds))

    def on_request(self, request: GuardRequest) -> Decision:
        """Redact the configured roles' messages (or block); prediction calls and clean
        chats pass untouched."""
        chat = request.chat
        if chat is None or self.options.direction == "response":
            return Decision.allow()
        messages: list[Message] = []
        found: list[Span] = []
        for message in chat.messages:
            if message.role in self.options.roles and message.content:
                text, spans = redact_text(message.content, self.kinds)
                if spans:
                    found.extend(spans)
                    message = replace(message, content=text)
            messages.append(message)
        if not found:
            return Decision.allow()
        return self._decide(request, found, "prompt", chat=chat.with_messages(messages))

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Redact the reply's content (or block), keeping values the client sent itself."""
        reply = response.reply
        if reply is None or self.options.direction == "request" or not reply.content:
            return Decision.allow()
        spans = find_spans(reply.content, self.kinds)
        if spans and self.options.keep_prompt_values and request.chat is not None:
            spans = _not_in(spans, _client_text(request.chat))
        if not spans:
            return Decision.allow()
        new = replace(reply, content=replace_spans(reply.content, spans))
        updated = replace(response, reply=new)
        return self._decide(request, spans, "reply", response=updated)

    def _decide(
        self,
        request: GuardRequest,
        spans: list[Span],
        where: str,
        *,
        chat: ChatRequest | None = None,
        response: GuardResponse | None = None,
    ) -> Decision:
        """Block or modify, with one event naming the kinds and how many of each."""
        counts: dict[str, int] = {}
        for span in spans:
            counts[span.kind] = counts.get(span.kind, 0) + 1
        named = ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))
        if self.options.action == "block":
            reason = f"{where} contains sensitive data ({named})"
            event = self.event(request, f"{where}_sensitive", Action.BLOCK, reason, kinds=counts)
            return Decision.block(reason, self.options.status, (event,))
        detail = f"redacted in the {where}: {named}"
        event = self.event(request, f"{where}_redacted", Action.MODIFY, detail, kinds=counts)
        if chat is not None:
            return Decision.modify(chat=chat, events=(event,))
        return Decision.modify(response=response, events=(event,))


def _client_text(chat: ChatRequest) -> str:
    """What the client wrote: user messages (tool results and system prompts are not the
    client's own words about itself)."""
    return "\n".join(m.content for m in chat.messages if m.role == "user")


def _not_in(spans: Iterable[Span], text: str) -> list[Span]:
    """Spans whose value does not appear in `text`."""
    return [span for span in spans if span.text not in text]
