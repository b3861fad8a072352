"""GuardPipeline: the policy's stages built from the registry (or an explicit table), run
on_request in order and on_response in reverse, collecting every stage's events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cached_property
from typing import Any

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.guard.context import StageContext
from redwatch.guard.policy import Policy
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardBlocked,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    GuardStage,
)
from redwatch.registry import plugins

GROUP = "redwatch.guard_stages"


class GuardPipeline:
    """Runs one policy's stages around a model call. `context` is what stages may know (spec,
    local model, reference rows); `stages` maps stage names to classes, None reads the
    `redwatch.guard_stages` entry points; `source` names the policy in error lines."""

    def __init__(
        self,
        policy: Policy,
        context: StageContext | None = None,
        stages: Mapping[str, type[GuardStage]] | None = None,
        source: str = "policy",
    ) -> None:
        self.policy = policy
        self.context = context or StageContext()
        self.table = stages
        self.source = source

    @cached_property
    def stages(self) -> list[GuardStage]:
        """The built stages in request order; UsageError for an unknown name or bad option."""
        table: Mapping[str, Any] = self.table if self.table is not None else plugins(GROUP)
        built = []
        for entry in self.policy.stages:
            if entry.name not in table:
                known = ", ".join(sorted(table)) or "none"
                raise UsageError(
                    f"{self.source}: unknown guard stage {entry.name!r}; known: {known}"
                )
            built.append(table[entry.name].from_options(entry.options, self.context, self.source))
        return built

    @property
    def domain(self) -> str:
        """ "rows" or "chat": what this policy guards; UsageError when its stages mix both."""
        domains = {stage.domain for stage in self.stages}
        if len(domains) > 1:
            raise UsageError(
                f"{self.source}: mixes prediction stages with chat stages; "
                "a policy guards one kind of endpoint"
            )
        return domains.pop() if domains else "rows"

    def on_request(self, request: GuardRequest) -> tuple[GuardRequest, list[GuardEvent]]:
        """Run every stage's on_request in order: the (possibly rewritten) request and the
        events; GuardBlocked (carrying the events so far) when a stage blocks."""
        events: list[GuardEvent] = []
        for stage in self.stages:
            decision = stage.on_request(request)
            events.extend(_with_default_event(stage, request, decision))
            if decision.action is Action.BLOCK:
                raise GuardBlocked(decision.reason, decision.status, stage.name, tuple(events))
            if decision.action is Action.MODIFY:
                request = _modified(stage, request, decision)
        return request, events

    def on_response(
        self, request: GuardRequest, response: GuardResponse
    ) -> tuple[GuardResponse, list[GuardEvent]]:
        """Run every stage's on_response in reverse order: the final response and events."""
        events: list[GuardEvent] = []
        for stage in reversed(self.stages):
            decision = stage.on_response(request, response)
            events.extend(_with_default_event(stage, request, decision))
            if decision.action is Action.BLOCK:
                raise GuardBlocked(decision.reason, decision.status, stage.name, tuple(events))
            if decision.action is Action.MODIFY:
                if decision.response is None:
                    raise TypeError(f"stage {stage.name} modified a response without one")
                response = decision.response
        return response, events


def _modified(stage: GuardStage, request: GuardRequest, decision: Decision) -> GuardRequest:
    """The request with the stage's new rows or new chat request."""
    if decision.chat is not None:
        return replace(request, chat=decision.chat)
    if decision.rows is None:
        raise TypeError(f"stage {stage.name} modified a request without rows or chat")
    return replace(request, rows=np.asarray(decision.rows, dtype=np.float64))


def _with_default_event(
    stage: GuardStage, request: GuardRequest, decision: Decision
) -> tuple[GuardEvent, ...]:
    """The decision's events; a block or modify that brought none gets one, so that every
    non-trivial decision is recorded."""
    if decision.events or decision.action is Action.ALLOW:
        return decision.events
    detail = decision.reason or f"{stage.name} changed the call"
    return (stage.event(request, decision.action.value, decision.action, detail),)
