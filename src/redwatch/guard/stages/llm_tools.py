"""llm-tools: a tool-call policy for agents. Tool names are checked against an allow-list
and a deny-list (glob patterns), and argument values against regex deny rules (e.g. e-mail
recipients outside the company, shell commands with `rm`); a violating call blocks the reply
or is dropped from it. Tools the policy forbids are also withheld from the request, so the
model is never offered them. Patterns are compiled once in check()."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fnmatch import translate
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from redwatch.exceptions import UsageError
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)
from redwatch.llm.chat import ToolCall

DROPPED_NOTE = "A requested action was withheld by the guard's tool policy."


class ArgumentRule(BaseModel):
    """Deny a call when an argument (glob on its name or dotted path) of a tool (glob on
    its name) matches `pattern` (a regular expression, searched)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1)
    tool: str = "*"
    argument: str = "*"


class LlmToolsOptions(StageOptions):
    """Allow-list (None: every tool not denied), deny-list, argument rules, and what to do
    with a violating call."""

    allow: list[str] | None = None
    deny: list[str] = Field(default_factory=list)
    arguments: list[ArgumentRule] = Field(default_factory=list)
    action: Literal["block", "drop"] = "block"
    filter_offered: bool = True
    status: int = Field(default=403, ge=400, le=499)


@dataclass(frozen=True)
class _Rule:
    """An argument rule with its three patterns compiled."""

    tool: re.Pattern[str]
    argument: re.Pattern[str]
    pattern: re.Pattern[str]
    source: str


def _glob(pattern: str) -> re.Pattern[str]:
    """A case-insensitive glob as a compiled regex."""
    return re.compile(translate(pattern), re.IGNORECASE)


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every scalar inside an argument value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}.{index}" if path else str(index))
    else:
        yield path, value if isinstance(value, str) else json.dumps(value)


class LlmToolsStage(GuardStage):
    """Enforce which tools an agent may call, with which arguments; drop or block the rest."""

    name: ClassVar[str] = "llm-tools"
    description: ClassVar[str] = (
        "Tool-call policy: allow/deny tool names and deny argument values by regex."
    )
    options_model: ClassVar[type[StageOptions]] = LlmToolsOptions
    domain: ClassVar[str] = "chat"
    options: LlmToolsOptions
    allowed: list[re.Pattern[str]] | None
    denied: list[re.Pattern[str]]
    rules: list[_Rule]

    def check(self) -> None:
        """Compile the globs and regexes; UsageError naming a bad pattern."""
        opts = self.options
        self.allowed = None if opts.allow is None else [_glob(p) for p in opts.allow]
        self.denied = [_glob(p) for p in opts.deny]
        self.rules = []
        for index, rule in enumerate(opts.arguments):
            try:
                compiled = re.compile(rule.pattern)
            except re.error as exc:
                raise UsageError(
                    f"stage {self.name}: arguments.{index}.pattern: not a regex ({exc})"
                ) from None
            source = f"{rule.tool}.{rule.argument} ~ /{rule.pattern}/"
            self.rules.append(_Rule(_glob(rule.tool), _glob(rule.argument), compiled, source))

    def name_refused(self, tool: str) -> str | None:
        """Why a tool name is refused (deny-list, or missing from the allow-list), or None."""
        if any(p.fullmatch(tool) for p in self.denied):
            return f"tool {tool} is denied"
        if self.allowed is not None and not any(p.fullmatch(tool) for p in self.allowed):
            return f"tool {tool} is not allowed"
        return None

    def call_refused(self, call: ToolCall) -> str | None:
        """Why a tool call is refused (its name, or an argument rule), or None."""
        named = self.name_refused(call.name)
        if named is not None:
            return named
        rules = [r for r in self.rules if r.tool.fullmatch(call.name)]
        if not rules:
            return None
        raw = call.arguments_raw
        values = [("*", raw)] if raw else list(leaves(call.arguments))
        for rule in rules:
            for path, text in values:
                if (path == "*" or rule.argument.fullmatch(path)) and rule.pattern.search(text):
                    return f"tool {call.name} argument {path} matches {rule.source}"
        return None

    def on_request(self, request: GuardRequest) -> Decision:
        """Withhold forbidden tools from the offered list (filter_offered); otherwise allow."""
        chat = request.chat
        if chat is None or not chat.tools or not self.options.filter_offered:
            return Decision.allow()
        kept = tuple(t for t in chat.tools if self.name_refused(t.name) is None)
        if len(kept) == len(chat.tools):
            return Decision.allow()
        removed = sorted({t.name for t in chat.tools} - {t.name for t in kept})
        detail = f"withheld tool(s) from the model: {', '.join(removed)}"
        event = self.event(request, "tools_withheld", Action.MODIFY, detail, tools=removed)
        return Decision.modify(chat=replace(chat, tools=kept), events=(event,))

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Block the reply, or drop the calls, when a tool call breaks the policy."""
        reply = response.reply
        if reply is None or not reply.tool_calls:
            return Decision.allow()
        refused = [(c, why) for c in reply.tool_calls if (why := self.call_refused(c))]
        if not refused:
            return Decision.allow()
        reasons = "; ".join(why for _, why in refused)
        data = {"tools": [c.name for c, _ in refused]}
        if self.options.action == "block":
            event = self.event(request, "tool_call_denied", Action.BLOCK, reasons, **data)
            return Decision.block(reasons, self.options.status, (event,))
        kept = tuple(c for c in reply.tool_calls if all(c is not r for r, _ in refused))
        content = reply.content or ("" if kept else DROPPED_NOTE)
        finish = reply.finish_reason if kept else "stop"
        new = replace(reply, tool_calls=kept, content=content, finish_reason=finish)
        event = self.event(request, "tool_call_dropped", Action.MODIFY, reasons, **data)
        return Decision.modify(response=replace(response, reply=new), events=(event,))
