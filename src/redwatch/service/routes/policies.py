"""/api/v1 guard policies: list a target's versions, create one from a YAML or JSON
document or from the target's latest campaign findings (a virtual patch), and activate a
version. Every change is audited; activation rebuilds the target's in-service guard."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from redwatch.exceptions import UsageError
from redwatch.findings import Finding
from redwatch.guard.patching import plan_patch
from redwatch.guard.policy import Policy
from redwatch.service import policies
from redwatch.service.auth import Analyst, Viewer
from redwatch.service.keys import Principal
from redwatch.service.routes.targets import known_target
from redwatch.service.state import ServiceState, State

router = APIRouter(tags=["policies"])
MAX_YAML_CHARS = 200_000


class NewPolicy(BaseModel):
    """A policy version: exactly one of `document` (JSON) or `yaml` (text)."""

    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any] | None = None
    yaml_text: str | None = Field(default=None, alias="yaml", max_length=MAX_YAML_CHARS)
    activate: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> NewPolicy:
        """A document or YAML text, not both."""
        if (self.document is None) == (self.yaml_text is None):
            raise ValueError("send exactly one of `document` or `yaml`")
        return self


class FromFindings(BaseModel):
    """Plan a policy from the target's latest completed campaign (or the one named)."""

    model_config = ConfigDict(extra="forbid")

    campaign: str | None = Field(default=None, max_length=64)
    activate: bool = False


def _check(state: ServiceState, name: str) -> policies.PolicyCheck | None:
    """Build a policy on the target's model and data before it is stored."""
    guards = state.guards
    if guards is None:
        return None

    def check(policy: Policy) -> None:
        guards.check(name, policy)

    return check


def _store(
    state: ServiceState, who: Principal, name: str, document: Any, source: str, activate: bool
) -> dict[str, Any]:
    """Create (and maybe activate) a version; 404 for an unknown target."""
    check = _check(state, name)
    try:
        stored = policies.create_policy(
            state.store, who, name, document, source, check, activate=activate
        )
    except policies.UnknownTarget as exc:
        raise HTTPException(404, str(exc)) from None
    if activate:
        state.refresh_guard(name)
    return stored


@router.get("/targets/{name}/policies")
def list_policies(name: str, who: Viewer, state: State) -> list[dict[str, Any]]:
    """A target's policy versions, newest first; `active` marks the one the guard runs."""
    known_target(state, name)
    return policies.list_policies(state.store, name)


@router.post("/targets/{name}/policies", status_code=201)
def create_policy(name: str, body: NewPolicy, who: Analyst, state: State) -> dict[str, Any]:
    """Store a new version from a JSON document or YAML text (validated and built on the
    target's model first); `activate` makes it the active one at once."""
    known_target(state, name)
    document: Any = body.document
    if body.yaml_text is not None:
        try:
            document = yaml.safe_load(body.yaml_text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 1}" if where is not None else ""
            raise UsageError(f"policy YAML is not valid YAML{line}") from None
    return _store(state, who, name, document, f"uploaded by {who.actor}", body.activate)


@router.post("/targets/{name}/policies/from-findings", status_code=201)
def policy_from_findings(
    name: str, body: FromFindings, who: Analyst, state: State
) -> dict[str, Any]:
    """A virtual patch planned from the findings of the target's latest campaign."""
    known_target(state, name)
    docs = state.store.list_findings(target=name, campaign=body.campaign)
    if not docs:
        raise HTTPException(409, f"target {name} has no findings to answer: run a campaign first")
    campaign = str(docs[0]["campaign_id"])
    plan = plan_patch([Finding.from_dict(d) for d in docs], campaign, name)
    source = f"findings of campaign {campaign[:12]}"
    stored = _store(state, who, name, plan.document(), source, body.activate)
    unanswered = [{**ref.to_dict(), "why": why} for ref, why in plan.unanswered]
    return {**stored, "answered": sorted(plan.answered()), "unanswered": unanswered}


@router.post("/policies/{policy_id}/activate")
def activate_policy(policy_id: int, who: Analyst, state: State) -> dict[str, Any]:
    """Make this version its target's only active policy; the guard switches at once."""
    stored = policies.activate_policy(state.store, who, policy_id)
    if stored is None:
        raise HTTPException(404, f"no guard policy {policy_id}")
    state.refresh_guard(str(stored["target"]))
    return stored
