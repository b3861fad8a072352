"""One scan of a chat endpoint: check that it answers, plan the chat probes and run them with
the same runner (store, diff, evidence, reports) as a model scan. There is no data set: the
probes bring their own prompts, so the campaign input carries empty arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from redwatch.engine.campaign import ScanOptions
from redwatch.engine.planner import plan_campaign
from redwatch.engine.runner import CampaignInput, CampaignRunner
from redwatch.exceptions import UsageError
from redwatch.llm.chat import ChatRequest, Message
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.chat_base import ChatTarget

PREFLIGHT_PROMPT = "Hello! What can you help me with?"


def run_chat_scan(
    target: ChatTarget,
    store: Store,
    options: ScanOptions,
    progress: Callable[[str], Any] | None = None,
) -> CampaignResult:
    """Check the endpoint, plan and run one campaign; reports land in options.out_dir."""
    if not isinstance(target, ChatTarget):
        raise UsageError(f"target {getattr(target, 'name', target)!r} is not a chat endpoint")
    if options.executor != "local":
        raise UsageError(f"chat scans run locally; --executor {options.executor} is for models")
    plan = plan_campaign(
        target.capabilities, requested=options.probes, budget=options.budget, params=options.params
    )
    preflight(target)
    config = chat_config(target, options)
    config.update(
        probes=[p.probe.name for p in plan.probes],
        budget={"queries": options.budget.queries, "seconds": options.budget.seconds},
        capabilities=sorted(target.capabilities.names),
    )
    inputs = CampaignInput(np.empty((0, 0)), np.empty(0, dtype=np.int64), False, config)
    runner = CampaignRunner(
        store, options.out_dir, seed=options.seed, formats=options.formats, progress=progress
    )
    return runner.run(target, target.kind, inputs, plan)


def preflight(target: ChatTarget) -> None:
    """One benign call before any attack, so that an unreachable or misconfigured endpoint
    is one clear error (EndpointError from the target) instead of every probe failing."""
    target.new_session()
    target.send(ChatRequest((Message("user", PREFLIGHT_PROMPT),)))


def chat_config(target: ChatTarget, options: ScanOptions) -> dict[str, Any]:
    """What the campaign records about the endpoint and its set-up (never a secret, never
    the deployed system prompt itself: only whether one was given)."""
    setup = target.setup
    config: dict[str, Any] = dict(target.describe())
    config.update(
        seed=options.seed,
        sets_system_prompt=setup.accepts_system,
        system_prompt_given=setup.system_prompt is not None,
        attacker=None if setup.attacker is None else setup.attacker.name,
        judge=None if setup.judge is None else setup.judge.name,
        max_turns=setup.max_turns,
    )
    if options.model is not None:
        config["endpoint"] = options.model
    return config
