"""Runtime guard: a pipeline of stages in front of a model (see docs/guard.md).

This package holds the pieces that the three deployments (in-process, ASGI middleware,
reverse proxy) share; only the in-process GuardedModel exists so far.
"""

from __future__ import annotations

from redwatch.guard.model import GuardedModel
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.policy import Policy, StageEntry, default_policy, load_policy, parse_policy
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardBlocked,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)

__all__ = [
    "Action",
    "Decision",
    "GuardBlocked",
    "GuardEvent",
    "GuardPipeline",
    "GuardRequest",
    "GuardResponse",
    "GuardStage",
    "GuardedModel",
    "Policy",
    "StageEntry",
    "StageOptions",
    "default_policy",
    "load_policy",
    "parse_policy",
]
