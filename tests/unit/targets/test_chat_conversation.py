"""ChatTarget metering and Conversation transcripts."""

from __future__ import annotations

import numpy as np
import pytest

from redwatch.exceptions import ProbeError, QueryBudgetExceeded
from redwatch.llm.chat import ChatReply, ChatRequest, Message
from redwatch.targets.chat_base import ChatTarget, Conversation


class Echo(ChatTarget):
    """Answers with the number of messages it was sent and the last user text."""

    sessions = 0

    def _send(self, request: ChatRequest) -> ChatReply:
        return ChatReply(f"{len(request.messages)}:{request.last_user}")

    def new_session(self) -> None:
        self.sessions += 1


def test_conversation_sends_the_whole_history_and_records_it() -> None:
    target = Echo("echo")
    talk = Conversation(target, system="sys")
    assert talk.say("a").content == "2:a"
    assert talk.say("b").content == "4:b"
    assert [m.role for m in talk.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert talk.evidence()["messages"][-1] == {"role": "assistant", "content": "4:b"}
    assert target.sessions == 1
    assert target.queries == 2


def test_chat_calls_are_metered_like_queries() -> None:
    target = Echo("echo")
    with target.limit(1):
        target.send(ChatRequest((Message("user", "x"),)))
        with pytest.raises(QueryBudgetExceeded):
            target.send(ChatRequest((Message("user", "y"),)))
    assert target.capabilities.names == frozenset({"chat"})
    with pytest.raises(ProbeError, match="chat endpoint"):
        target.predict(np.zeros((1, 1)))
