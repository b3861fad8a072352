"""Plugin discovery through entry points. Built-ins register the same way third parties do."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from redwatch.exceptions import UsageError

GROUPS = (
    "redwatch.probes",
    "redwatch.targets",
    "redwatch.guard_stages",
    "redwatch.reporters",
    "redwatch.alert_sinks",
    "redwatch.llm_detectors",
    "redwatch.llm_converters",
)


@cache
def plugins(group: str) -> dict[str, Any]:
    """Load every plugin registered under an entry-point group, keyed by entry-point name.

    A plugin whose `name` class variable disagrees with its entry-point name is rejected, so
    the name a user types is the name a report shows.
    """
    if group not in GROUPS:
        raise UsageError(f"unknown plugin group {group!r}")
    found: dict[str, Any] = {}
    for ep in entry_points(group=group):
        obj = ep.load()
        declared = getattr(obj, "name", ep.name)
        if declared != ep.name:
            raise UsageError(
                f"plugin {ep.value} registered as {ep.name!r} but declares name {declared!r}"
            )
        found[ep.name] = obj
    return dict(sorted(found.items()))


def get(group: str, name: str) -> Any:
    """One plugin by name; UsageError listing the known names otherwise."""
    table = plugins(group)
    if name not in table:
        known = ", ".join(table) or "none"
        raise UsageError(f"unknown {group.split('.')[-1][:-1]} {name!r}; known: {known}")
    return table[name]
