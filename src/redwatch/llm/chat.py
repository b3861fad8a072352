"""Chat data in the OpenAI chat-completions shape: messages, tool specs, tool calls, one
request and one reply. Parsing is strict: a malformed body is one DataError line naming the
field, so every chat target, the reference app and the guard proxy read JSON the same way."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from redwatch.exceptions import DataError

ROLES = ("system", "user", "assistant", "tool")


def _field(raw: Mapping[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    """raw[key] checked against `kind`; DataError naming `where.key` otherwise."""
    if key not in raw or raw[key] is None:
        if default is ...:
            raise DataError(f"{where}.{key}: missing")
        return default
    value = raw[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise DataError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class ToolCall:
    """A call the assistant asked for: its id, the tool's name and the parsed arguments
    (`arguments_raw` keeps the text when it was not a JSON object)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = "call_0"
    arguments_raw: str = ""

    def to_openai(self) -> dict[str, Any]:
        """{"id", "type": "function", "function": {"name", "arguments": JSON text}}."""
        text = self.arguments_raw or json.dumps(self.arguments, sort_keys=True)
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": text},
        }

    @classmethod
    def from_openai(cls, raw: Any, where: str = "tool_call") -> ToolCall:
        """Parse one OpenAI tool call; arguments that are not a JSON object stay raw."""
        if not isinstance(raw, Mapping):
            raise DataError(f"{where}: expected an object")
        fn = _field(raw, "function", Mapping, where)
        name = _field(fn, "name", str, f"{where}.function")
        text = fn.get("arguments", "{}")
        if isinstance(text, Mapping):
            return cls(name, dict(text), str(raw.get("id", "call_0")))
        if not isinstance(text, str):
            raise DataError(f"{where}.function.arguments: expected a JSON string")
        try:
            parsed = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return cls(name, parsed, str(raw.get("id", "call_0")))
        return cls(name, {}, str(raw.get("id", "call_0")), arguments_raw=text)

    def text(self) -> str:
        """The call as one line of text, for detectors that read strings."""
        args = self.arguments_raw or json.dumps(self.arguments, sort_keys=True)
        return f"{self.name}({args})"


@dataclass(frozen=True)
class Message:
    """One chat message. Assistant messages may carry tool calls; tool messages answer one
    call by `tool_call_id`."""

    role: str
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise DataError(f"message role {self.role!r} is not one of {', '.join(ROLES)}")

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI message object (only the keys that are set)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out

    @classmethod
    def from_openai(cls, raw: Any, where: str = "message") -> Message:
        """Parse one message; content given as a list of text parts is joined."""
        if not isinstance(raw, Mapping):
            raise DataError(f"{where}: expected an object")
        role = _field(raw, "role", str, where)
        if role not in ROLES:
            raise DataError(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
        content = raw.get("content")
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        elif content is None:
            content = ""
        elif not isinstance(content, str):
            raise DataError(f"{where}.content: expected a string")
        calls = raw.get("tool_calls") or []
        if not isinstance(calls, list):
            raise DataError(f"{where}.tool_calls: expected a list")
        return cls(
            role,
            content,
            tuple(ToolCall.from_openai(c, f"{where}.tool_calls.{i}") for i, c in enumerate(calls)),
            raw.get("tool_call_id"),
            raw.get("name"),
        )

    def text(self) -> str:
        """Content plus the tool calls as text: what detectors read."""
        parts = [self.content, *(c.text() for c in self.tool_calls)]
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: name, description and JSON-schema parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})

    def to_openai(self) -> dict[str, Any]:
        """{"type": "function", "function": {...}}."""
        fn = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": fn}

    @classmethod
    def from_openai(cls, raw: Any, where: str = "tool") -> ToolSpec:
        """Parse one tool declaration."""
        if not isinstance(raw, Mapping):
            raise DataError(f"{where}: expected an object")
        fn = _field(raw, "function", Mapping, where)
        params = _field(fn, "parameters", Mapping, f"{where}.function", {"type": "object"})
        return cls(
            _field(fn, "name", str, f"{where}.function"),
            _field(fn, "description", str, f"{where}.function", ""),
            dict(params),
        )


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions call: the whole conversation so far plus the offered tools."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None

    @property
    def system(self) -> str | None:
        """The first system message's content, if any."""
        return next((m.content for m in self.messages if m.role == "system"), None)

    @property
    def last_user(self) -> str:
        """The latest user message's content ("" when there is none)."""
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    def with_messages(self, messages: Sequence[Message]) -> ChatRequest:
        """The same call with other messages (guard stages rewrite prompts this way)."""
        return replace(self, messages=tuple(messages))

    def to_openai(self) -> dict[str, Any]:
        """The request body for POST /chat/completions."""
        body: dict[str, Any] = {"messages": [m.to_openai() for m in self.messages]}
        if self.model is not None:
            body["model"] = self.model
        if self.tools:
            body["tools"] = [t.to_openai() for t in self.tools]
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body

    @classmethod
    def from_openai(cls, body: Any) -> ChatRequest:
        """Parse a request body; DataError naming the first bad field."""
        if not isinstance(body, Mapping):
            raise DataError("request body: expected a JSON object")
        messages = _field(body, "messages", list, "request")
        if not messages:
            raise DataError("request.messages: empty")
        tools = _field(body, "tools", list, "request", [])
        max_tokens = _field(body, "max_tokens", int, "request", None)
        temperature = body.get("temperature")
        if temperature is not None and not isinstance(temperature, int | float):
            raise DataError("request.temperature: expected a number")
        return cls(
            tuple(Message.from_openai(m, f"request.messages.{i}") for i, m in enumerate(messages)),
            tuple(ToolSpec.from_openai(t, f"request.tools.{i}") for i, t in enumerate(tools)),
            _field(body, "model", str, "request", None),
            max_tokens,
            None if temperature is None else float(temperature),
        )


@dataclass(frozen=True)
class ChatReply:
    """What the assistant answered. `blocked` holds the one-line reason when a guard or the
    provider's filter refused the call (content is then empty): a refusal, not an error."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    model: str | None = None
    blocked: str | None = None

    def message(self) -> Message:
        """The reply as an assistant message, to append to a conversation."""
        return Message("assistant", self.content, self.tool_calls)

    def text(self) -> str:
        """Content plus tool calls as text: what detectors read."""
        return self.message().text()

    def to_openai(
        self, model: str = "redwatch", id: str = "chatcmpl-0", created: int = 0
    ) -> dict[str, Any]:
        """A chat.completion response object with one choice."""
        message = self.message().to_openai()
        return {
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": self.model or model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    @classmethod
    def from_openai(cls, body: Any) -> ChatReply:
        """Parse a chat.completion response (the first choice); DataError when malformed."""
        if not isinstance(body, Mapping):
            raise DataError("response body: expected a JSON object")
        choices = _field(body, "choices", list, "response")
        if not choices:
            raise DataError("response.choices: empty")
        first = choices[0]
        if not isinstance(first, Mapping):
            raise DataError("response.choices.0: expected an object")
        message = Message.from_openai(_field(first, "message", Mapping, "response.choices.0"))
        finish = first.get("finish_reason") or ("tool_calls" if message.tool_calls else "stop")
        model = body.get("model")
        return cls(
            message.content,
            message.tool_calls,
            str(finish),
            model if isinstance(model, str) else None,
        )


def transcript(messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> dict[str, Any]:
    """A conversation as evidence data: {"messages": [...], "tools": [...]} in OpenAI shape,
    so that a reader (or a replay) sees exactly what was sent and answered."""
    return {
        "messages": [m.to_openai() for m in messages],
        "tools": [t.name for t in tools],
    }
