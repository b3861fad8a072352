"""Wrap a small Python function as a chat target, send it one request and keep the
transcript: how to test an agent in-process without serving it over HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from redwatch.llm.chat import ChatReply, ChatRequest, ToolCall, ToolSpec
from redwatch.targets.chat_base import Conversation
from redwatch.targets.chat_callable import CallableChatTarget


def shop_assistant(request: ChatRequest) -> ChatReply | str:
    """A toy agent: answers opening hours, and asks for the e-mail tool when told to mail."""
    question = request.last_user.lower()
    mail_tool = next((t for t in request.tools if "mail" in t.name), None)
    if mail_tool is not None and "e-mail" in question:
        call = ToolCall(mail_tool.name, {"to": "customer@example.com", "body": "Your order"})
        return ChatReply(tool_calls=(call,), finish_reason="tool_calls")
    if "opening hours" in question:
        return "We are open 9:00-17:00, Monday to Friday."
    return "I can help with orders, returns and opening hours."


def main(out: Path) -> None:
    """Send one request, print the reply and what the campaign would record."""
    target = CallableChatTarget(shop_assistant, name="shop-assistant")
    send_email = ToolSpec("send_email", "Send an e-mail to a customer")
    talk = Conversation(target, system="You are the shop's assistant.", tools=[send_email])
    reply = talk.say("Please e-mail the customer about their order.")
    print(f"reply: {reply.text()}")
    print(f"queries spent: {target.queries}")
    print(f"recorded as: {target.describe()}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "transcript.json").write_text(json.dumps(talk.evidence(), indent=2), encoding="utf-8")
    print(f"transcript: {out / 'transcript.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out"))
