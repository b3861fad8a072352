"""Chat calls through the guard pipeline: a stage may rewrite the chat request or the
reply, and a policy may not mix prediction stages with chat stages."""

from __future__ import annotations

import numpy as np
import pytest

from redwatch.exceptions import UsageError
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.policy import Policy
from redwatch.guard.stage import Decision, GuardRequest, GuardResponse, GuardStage
from redwatch.llm.chat import ChatReply, ChatRequest, Message


class Shout(GuardStage):
    """Upper-cases the user's last message and the reply."""

    name = "shout"
    description = "test stage"
    domain = "chat"

    def on_request(self, request: GuardRequest) -> Decision:
        assert request.chat is not None
        loud = [Message(m.role, m.content.upper()) for m in request.chat.messages]
        return Decision.modify(chat=request.chat.with_messages(loud))

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        assert response.reply is not None
        reply = ChatReply(response.reply.content.upper())
        return Decision.modify(response=GuardResponse(np.empty(0), reply=reply))


class Rows(GuardStage):
    """A prediction stage that allows everything."""

    name = "rows"
    description = "test stage"


def _policy(*names: str) -> Policy:
    return Policy.model_validate({"stages": [{"name": n} for n in names]})


def test_chat_stage_rewrites_request_and_reply_and_records_events() -> None:
    pipeline = GuardPipeline(_policy("shout"), stages={"shout": Shout})
    request = GuardRequest(
        np.empty((0, 0)), method="chat", chat=ChatRequest((Message("user", "hi"),))
    )
    guarded, events = pipeline.on_request(request)
    assert guarded.chat is not None
    assert guarded.chat.last_user == "HI"
    assert [e.kind for e in events] == ["modify"]
    response, _ = pipeline.on_response(guarded, GuardResponse(np.empty(0), reply=ChatReply("ok")))
    assert response.reply == ChatReply("OK")
    assert pipeline.domain == "chat"


def test_a_policy_mixing_domains_is_refused() -> None:
    pipeline = GuardPipeline(_policy("rows", "shout"), stages={"shout": Shout, "rows": Rows})
    with pytest.raises(UsageError, match="mixes prediction stages with chat stages"):
        _ = pipeline.domain
    assert GuardPipeline(_policy("rows"), stages={"rows": Rows}).domain == "rows"
