"""The guard stage contract: what a stage sees (GuardRequest, GuardResponse), what it
answers (Decision) and what it reports (GuardEvent). Stages return data; they never write."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from redwatch.config import first_error
from redwatch.exceptions import RedwatchError, UsageError
from redwatch.guard.context import StageContext
from redwatch.llm.chat import ChatReply, ChatRequest
from redwatch.targets.spec import InputSpec


class Action(StrEnum):
    """What a stage decided about a request or a response."""

    ALLOW = "allow"
    MODIFY = "modify"
    BLOCK = "block"


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class GuardEvent:
    """Something a stage saw: a blocked input, a repaired row, a perturbed output.

    `id` is unique per event so that a replayed spool never stores an event twice; `data`
    holds JSON-serialisable details (numbers, strings, lists, dicts)."""

    stage: str
    kind: str
    action: Action
    detail: str
    client: str = "anonymous"
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)
    id: str = field(default_factory=_new_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the spool line and the store row carry exactly these keys)."""
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "stage": self.stage,
            "kind": self.kind,
            "action": self.action.value,
            "client": self.client,
            "detail": self.detail,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GuardEvent:
        """Inverse of to_dict; KeyError/ValueError on a malformed mapping."""
        return cls(
            stage=str(raw["stage"]),
            kind=str(raw["kind"]),
            action=Action(raw["action"]),
            detail=str(raw["detail"]),
            client=str(raw["client"]),
            data=dict(raw["data"]),
            timestamp=float(raw["timestamp"]),
            id=str(raw["id"]),
        )


@dataclass(frozen=True)
class GuardRequest:
    """One prediction call: who asked (client id, API key), what (rows, n x d floats), and
    which model method (`predict` or `predict_proba`, which roles may be limited to).
    A chat call carries its `chat` request instead (rows then empty, method "chat")."""

    rows: np.ndarray
    client: str = "anonymous"
    key: str | None = None
    payload_bytes: int = 0
    timestamp: float = field(default_factory=time.time)
    method: str = "predict"
    chat: ChatRequest | None = None


@dataclass(frozen=True)
class GuardResponse:
    """What the model answered: labels, and probabilities when the call asked for them.
    `classes` maps probability columns to labels. A chat call's answer is `reply` (labels
    then empty)."""

    labels: np.ndarray
    proba: np.ndarray | None = None
    classes: np.ndarray | None = None
    reply: ChatReply | None = None


@dataclass(frozen=True)
class Decision:
    """A stage's answer: allow, modify (new rows, a new chat request, or a new response) or
    block (reason and an HTTP status, 4xx), plus the events it wants recorded."""

    action: Action
    events: tuple[GuardEvent, ...] = ()
    rows: np.ndarray | None = None
    response: GuardResponse | None = None
    chat: ChatRequest | None = None
    reason: str = ""
    status: int = 200

    @classmethod
    def allow(cls, events: tuple[GuardEvent, ...] = ()) -> Decision:
        """Let the call through unchanged."""
        return cls(Action.ALLOW, events)

    @classmethod
    def modify(
        cls,
        *,
        rows: np.ndarray | None = None,
        response: GuardResponse | None = None,
        chat: ChatRequest | None = None,
        events: tuple[GuardEvent, ...] = (),
    ) -> Decision:
        """Replace the request's rows or chat request (on_request) or the response
        (on_response)."""
        if sum(x is not None for x in (rows, response, chat)) != 1:
            raise ValueError("Decision.modify needs exactly one of rows, chat or response")
        return cls(Action.MODIFY, events, rows=rows, response=response, chat=chat)

    @classmethod
    def block(cls, reason: str, status: int = 400, events: tuple[GuardEvent, ...] = ()) -> Decision:
        """Refuse the call with a one-line reason and a 4xx status."""
        if not 400 <= status < 500:
            raise ValueError(f"a block needs a 4xx status, got {status}")
        return cls(
            Action.BLOCK, events, reason=reason.splitlines()[0] if reason else "", status=status
        )


class GuardBlocked(RedwatchError):
    """The guard refused a call: one-line reason, HTTP status, the stage, and the events."""

    def __init__(
        self, reason: str, status: int, stage: str, events: tuple[GuardEvent, ...] = ()
    ) -> None:
        super().__init__(f"blocked by {stage}: {reason}")
        self.reason = reason
        self.status = status
        self.stage = stage
        self.events = events


class StageOptions(BaseModel):
    """Base of every stage's options: strict (unknown keys are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GuardStage:
    """A declaration (name, description, option model) plus on_request / on_response.

    Subclasses override either hook; the defaults allow. `from_options` validates raw policy
    options so that a typo becomes one UsageError line naming the stage and the field.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    options_model: ClassVar[type[StageOptions]] = StageOptions
    # True for a stage whose purpose is to serve a different label for some rows (the keyed
    # watermark); every other stage must leave the model's labels as they are.
    relabels: ClassVar[bool] = False
    # What the stage guards: "rows" (prediction calls) or "chat" (chat completions). A
    # pipeline holds stages of one domain; the deployment refuses a policy that mixes them.
    domain: ClassVar[str] = "rows"

    def __init__(self, options: StageOptions, context: StageContext | None = None) -> None:
        self.options = options
        self.context = context or StageContext()

    @property
    def spec(self) -> InputSpec | None:
        """The model's InputSpec, when the deployment knows it."""
        return self.context.spec

    @classmethod
    def from_options(
        cls, raw: dict[str, Any], context: StageContext | None = None, where: str = "policy"
    ) -> GuardStage:
        """Validate `raw` against the option model, build the stage, then `check` it."""
        try:
            options = cls.options_model.model_validate(raw)
        except ValidationError as exc:
            raise UsageError(f"{where}: stage {cls.name}: {first_error(exc)}") from None
        stage = cls(options, context)
        stage.check()
        return stage

    def check(self) -> None:
        """Raise UsageError (or DataError) when the options cannot work in this context, and
        do any one-off preparation (loading reference data, calibrating): the default does
        nothing. It runs once, when the pipeline is built, never per call."""

    def on_request(self, request: GuardRequest) -> Decision:
        """Inspect (and possibly rewrite or refuse) a request before the model sees it."""
        return Decision.allow()

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Inspect (and possibly rewrite or refuse) the model's answer."""
        return Decision.allow()

    def event(
        self, request: GuardRequest, kind: str, action: Action, detail: str, **data: Any
    ) -> GuardEvent:
        """An event from this stage about `request`."""
        return GuardEvent(self.name, kind, action, detail, request.client, dict(data))
