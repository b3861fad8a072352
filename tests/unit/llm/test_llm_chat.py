"""Chat data: OpenAI-shaped bodies parse strictly and round-trip."""

from __future__ import annotations

import json

import pytest

from redwatch.exceptions import DataError
from redwatch.llm.chat import ChatReply, ChatRequest, Message, ToolCall, ToolSpec, transcript

BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "be nice"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
            ],
        },
        {"role": "tool", "content": "done", "tool_call_id": "c1"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "max_tokens": 5,
    "temperature": 0,
}


def test_request_parses_and_round_trips() -> None:
    request = ChatRequest.from_openai(BODY)
    assert request.system == "be nice"
    assert request.last_user == "hello"
    assert request.messages[2].tool_calls == (ToolCall("f", {"a": 1}, "c1"),)
    assert request.tools == (ToolSpec("f", "", {"type": "object"}),)
    assert ChatRequest.from_openai(json.loads(json.dumps(request.to_openai()))) == request


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected a JSON object"),
        ({}, "request.messages: missing"),
        ({"messages": []}, "request.messages: empty"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "request.messages.0.role"),
        ({"messages": [{"role": "user", "content": 3}]}, "request.messages.0.content"),
        ({"messages": [{"role": "user"}], "max_tokens": "9"}, "request.max_tokens"),
        ({"messages": [{"role": "user"}], "tools": [{"function": {}}]}, "request.tools.0"),
    ],
)
def test_malformed_requests_name_the_field(body: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        ChatRequest.from_openai(body)


def test_reply_parses_tool_calls_and_keeps_raw_arguments() -> None:
    body = ChatReply("", (ToolCall("pay", {"to": "x"}, "c9"),), "tool_calls", "m").to_openai()
    reply = ChatReply.from_openai(body)
    assert reply.tool_calls[0].arguments == {"to": "x"}
    assert reply.finish_reason == "tool_calls"
    odd = ToolCall.from_openai({"function": {"name": "sh", "arguments": "rm -rf /"}})
    assert odd.arguments == {}
    assert odd.arguments_raw == "rm -rf /"
    assert odd.text() == "sh(rm -rf /)"
    with pytest.raises(DataError, match=r"response\.choices: empty"):
        ChatReply.from_openai({"choices": []})


def test_transcript_is_openai_shaped() -> None:
    data = transcript([Message("user", "hi"), ChatReply("yo").message()], [ToolSpec("f")])
    assert data == {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        "tools": ["f"],
    }
