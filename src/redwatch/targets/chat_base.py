"""ChatTarget: an LLM chat endpoint under test, and Conversation, the multi-turn helper
probes use. A chat target is a Target so that the engine meters it like any model: one
query per chat call, the same hard budgets and deadlines; it has no class scores.

What redwatch may do to the endpoint is data on the target (`ChatSetup`): whether it sets
the system prompt (then it plants canaries), the deployed system prompt when it cannot,
and the optional attacker and judge models."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redwatch.exceptions import ProbeError
from redwatch.llm.chat import ChatReply, ChatRequest, Message, ToolSpec, transcript
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities


@dataclass
class ChatSetup:
    """Campaign settings for a chat target.

    `accepts_system`: redwatch may send its own system prompt (an OpenAI-compatible model
    endpoint: yes; an application that adds its own: no). `system_prompt`: the deployed
    system prompt, given by the user so that extraction can be measured by similarity when
    no canary can be planted. `attacker` / `judge`: optional chat targets for multi-turn
    escalation and LLM-as-judge."""

    accepts_system: bool = True
    system_prompt: str | None = None
    attacker: ChatTarget | None = None
    judge: ChatTarget | None = None
    max_turns: int = 5


class ChatTarget(Target):
    """A chat endpoint. Subclasses implement `_send`; stateful ones (session cookie, server
    side history) override `new_session` and set `stateful`."""

    stateful: bool = False  # the endpoint keeps the history; send only the newest message

    def __init__(self, name: str, setup: ChatSetup | None = None) -> None:
        self.name = name
        self.capabilities = Capabilities(labels=False, chat=True)
        self.setup = setup or ChatSetup()
        self.queries = 0

    @property
    def kind(self) -> str:
        """Short adapter name for reports and the store."""
        return "chat"

    def send(self, request: ChatRequest) -> ChatReply:
        """One metered chat call (one query); QueryBudgetExceeded past the budget."""
        self._spend(1)
        return self._send(request)

    def new_session(self) -> None:
        """Start a fresh conversation on the endpoint (new session id, cookies, login);
        stateless endpoints need nothing."""
        return None

    def describe(self) -> dict[str, Any]:
        """What to record about the endpoint in the campaign config (never secrets)."""
        return {"kind": self.kind, "name": self.name}

    @abstractmethod
    def _send(self, request: ChatRequest) -> ChatReply:
        """Deliver the request and parse the reply; EndpointError on transport failure."""

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        raise ProbeError(f"target {self.name} is a chat endpoint; it has no class scores")


@dataclass
class Conversation:
    """A multi-turn exchange with one target: `say` appends the user's message, sends the
    whole history (stateless endpoints) and records the reply, so `messages` is always the
    complete transcript for evidence. Starting one opens a fresh session on the target."""

    target: ChatTarget
    system: str | None = None
    tools: Sequence[ToolSpec] = ()
    messages: list[Message] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.target.new_session()
        if self.system is not None and not self.messages:
            self.messages.append(Message("system", self.system))

    def say(self, content: str) -> ChatReply:
        """Send one user message and return the reply (also appended to `messages`)."""
        return self.send(Message("user", content))

    def send(self, *new: Message) -> ChatReply:
        """Append messages (user text, tool results), send, record and return the reply."""
        self.messages.extend(new)
        reply = self.target.send(ChatRequest(tuple(self.messages), tuple(self.tools)))
        self.messages.append(reply.message())
        return reply

    def evidence(self) -> dict[str, Any]:
        """The transcript as evidence data."""
        return transcript(self.messages, self.tools)
