"""llm-output: an output policy for chat replies, so that an application that renders or
executes what the model says is not handed an attack (OWASP LLM05, improper output
handling). Deny regexes block a reply; executable markup found by the markup detector
(script tags, event handlers, javascript: URLs, exfiltrating markdown images, SQL and shell
payloads) is escaped or blocks (escape mode still blocks what escaping cannot defuse, such
as a DROP TABLE statement); an overlong reply is cut or blocks."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field

from redwatch.exceptions import UsageError
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)
from redwatch.guard.stages.llm_injection import load_detector
from redwatch.llm.detectors.base import DetectInput, Detector

MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]*)\)")
MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(\s*(?:javascript|data|vbscript):[^)]*\)", re.I)
CUT_MARK = " […]"


class LlmOutputOptions(StageOptions):
    """What to do with executable markup, how long a reply may be, and regexes that must
    never appear in a reply."""

    markup: Literal["off", "escape", "block"] = "escape"
    max_chars: int | None = Field(default=None, ge=16)
    too_long: Literal["truncate", "block"] = "truncate"
    deny: list[str] = Field(default_factory=list)
    status: int = Field(default=403, ge=400, le=499)


def neutralise(text: str) -> str:
    """`text` made inert for HTML and markdown renderers: markdown images lose their URL
    (an image fetch can carry data out in its query string), script-scheme links lose their
    target, then every HTML special character is escaped."""
    text = MARKDOWN_IMAGE.sub(lambda m: f"[image: {m.group(1)}]", text)
    text = MARKDOWN_LINK.sub(lambda m: m.group(1), text)
    return html.escape(text, quote=True)


class LlmOutputStage(GuardStage):
    """Escape or block executable markup in replies, enforce a length cap and deny regexes."""

    name: ClassVar[str] = "llm-output"
    description: ClassVar[str] = (
        "Output policy for chat replies: escape or block markup/code, length cap, deny regexes."
    )
    options_model: ClassVar[type[StageOptions]] = LlmOutputOptions
    domain: ClassVar[str] = "chat"
    options: LlmOutputOptions
    detector: Detector | None
    denied: list[re.Pattern[str]]

    def check(self) -> None:
        """Compile the deny regexes and prepare the markup detector once."""
        self.denied = []
        for index, pattern in enumerate(self.options.deny):
            try:
                self.denied.append(re.compile(pattern))
            except re.error as exc:
                raise UsageError(f"stage {self.name}: deny.{index}: not a regex ({exc})") from None
        self.detector = None
        if self.options.markup != "off":
            self.detector = load_detector("markup", self.name)
            self.detector.prepare()

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Apply deny regexes, the markup policy and the length cap, in that order."""
        reply = response.reply
        if reply is None or not reply.content:
            return Decision.allow()
        text = reply.content
        for pattern in self.denied:
            if pattern.search(text):
                return self._block(request, "output_denied", f"reply matches /{pattern.pattern}/")
        events: list[GuardEvent] = []
        if self.detector is not None:
            verdict = self.detector.detect(DetectInput(text, prompt=_prompt(request)))
            if verdict.hit and self.options.markup == "block":
                return self._block(request, "unsafe_markup", f"reply carries {verdict.reason}")
            if verdict.hit:
                text = neutralise(text)
                still = self.detector.detect(DetectInput(text, prompt=_prompt(request)))
                if still.hit:  # SQL and shell stay dangerous however HTML is escaped
                    reason = f"reply carries {still.reason} (escaping cannot defuse it)"
                    return self._block(request, "unsafe_markup", reason)
                detail = f"escaped {verdict.reason}"
                events.append(self.event(request, "markup_escaped", Action.MODIFY, detail))
        cap = self.options.max_chars
        if cap is not None and len(text) > cap:
            if self.options.too_long == "block":
                return self._block(request, "reply_too_long", f"reply longer than {cap} chars")
            text = text[: max(cap - len(CUT_MARK), 0)] + CUT_MARK
            detail = f"cut to {cap} characters"
            events.append(self.event(request, "reply_truncated", Action.MODIFY, detail))
        if not events:
            return Decision.allow()
        new = replace(response, reply=replace(reply, content=text))
        return Decision.modify(response=new, events=tuple(events))

    def _block(self, request: GuardRequest, kind: str, reason: str) -> Decision:
        """A block with its event."""
        event = self.event(request, kind, Action.BLOCK, reason)
        return Decision.block(reason, self.options.status, (event,))


def _prompt(request: GuardRequest) -> str:
    """The latest user message (detectors may compare a reply with what was asked)."""
    return request.chat.last_user if request.chat is not None else ""
