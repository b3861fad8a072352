"""A Python function as a chat target: test an agent in-process (a LangChain chain, a local
model, a scripted test double) without serving it over HTTP.

The function takes a ChatRequest and returns a ChatReply, plain text, or an OpenAI
chat.completion dict. Anything it raises becomes one EndpointError line, so a crashing
agent is reported like an endpoint that failed, not as a traceback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from redwatch.exceptions import DataError, EndpointError, TargetError, first_line
from redwatch.llm.chat import ChatReply, ChatRequest
from redwatch.targets.chat_base import ChatSetup, ChatTarget

ChatFunction = Callable[[ChatRequest], Any]


class CallableChatTarget(ChatTarget):
    """Calls `fn(request)` for every chat call (metered like any endpoint)."""

    def __init__(self, fn: ChatFunction, *, name: str, setup: ChatSetup | None = None) -> None:
        """Store the function; it is first called by `send`."""
        super().__init__(name, setup)
        self.fn = fn

    def describe(self) -> dict[str, Any]:
        """The adapter and the function's qualified name."""
        return {**super().describe(), "adapter": "callable", "callable": _qualified(self.fn)}

    def _send(self, request: ChatRequest) -> ChatReply:
        """Call the function; its failures become one EndpointError line."""
        try:
            result = self.fn(request)
        except TargetError:
            raise  # already one line (e.g. a wrapped endpoint or a spent budget)
        except Exception as exc:
            raise EndpointError(
                f"chat callable {self.name} raised {type(exc).__name__}: {first_line(exc, 160)}"
            ) from None
        return self.to_reply(result)

    def to_reply(self, result: object) -> ChatReply:
        """A ChatReply from what the function returned; EndpointError for anything else."""
        if isinstance(result, ChatReply):
            return result
        if isinstance(result, str):
            return ChatReply(result)
        if isinstance(result, Mapping):
            try:
                return ChatReply.from_openai(result)
            except DataError as exc:
                raise EndpointError(
                    f"chat callable {self.name} returned a malformed completion: {exc}"
                ) from None
        raise EndpointError(
            f"chat callable {self.name} returned {type(result).__name__}; expected a "
            "ChatReply, a string or an OpenAI completion dict"
        )


def _qualified(fn: object) -> str:
    """module:qualname of a function or callable object, for the campaign record."""
    target = fn if hasattr(fn, "__qualname__") else type(fn)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}:{getattr(target, '__qualname__', type(fn).__name__)}"
