"""Planner: which probes apply to this target, in what order, with what share of the budget.
Cheap probes run first so that a short budget still yields the broad picture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redwatch.exceptions import UsageError
from redwatch.probes.base import Budget, Probe
from redwatch.registry import plugins
from redwatch.results import ProbeRun
from redwatch.targets.capabilities import Capabilities


@dataclass
class PlannedProbe:
    """One probe to run, its slice of the campaign budget, and its options."""

    probe: type[Probe]
    budget: Budget
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """The ordered probes to run and the ones skipped, each with the reason."""

    probes: list[PlannedProbe]
    skipped: list[ProbeRun]


def available_probes() -> dict[str, type[Probe]]:
    """Every probe registered under the `redwatch.probes` entry point."""
    return plugins("redwatch.probes")


def plan_campaign(
    capabilities: Capabilities,
    *,
    requested: Sequence[str] | None = None,
    budget: Budget | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """Choose probes from the target's capabilities and split the budget by probe cost.

    Without `requested`, every registered probe whose `default` flag is set is considered;
    opt-in probes (such as the ART adapters) run only when named. Chat targets get only the
    probes that require "chat", other targets never get those.

    Explicitly requested probes that do not apply are reported as skipped with the reason;
    unknown names are a UsageError listing the known ones.
    """
    table = available_probes()
    names = list(requested) if requested else _defaults(table, capabilities)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise UsageError(f"unknown probe(s): {', '.join(unknown)}; known: {', '.join(table)}")
    for name in params or {}:
        if name not in table:
            raise UsageError(f"options given for unknown probe {name!r}")
    chosen, skipped = [], []
    for name in dict.fromkeys(names):
        cls = table[name]
        if cls.applies(capabilities):
            chosen.append(cls)
        else:
            reason = cls.why_not(capabilities) or "does not apply to this target"
            skipped.append(ProbeRun(name, "skipped", message=reason))
    chosen.sort(key=lambda c: (c.cost, c.name))
    shares = (budget or Budget()).split([float(c.cost) for c in chosen]) if chosen else []
    planned = [
        PlannedProbe(cls, share, dict((params or {}).get(cls.name, {})))
        for cls, share in zip(chosen, shares, strict=True)
    ]
    return Plan(planned, skipped)


def _defaults(table: Mapping[str, type[Probe]], capabilities: Capabilities) -> list[str]:
    """Default probes for this kind of target: chat probes for chat endpoints only."""
    chat = capabilities.chat
    return [n for n, c in table.items() if c.default and ("chat" in c.requires) == chat]
