"""API keys for the guard tests, hashed at the cheapest scrypt cost the policy accepts so
that the tests stay fast (the stored form records its cost; production uses 2^14)."""

from __future__ import annotations

from functools import cache
from typing import Any

from redwatch.guard.keys import generate_api_key

TEST_COST = 2**10


@cache
def _key(ident: str, role: str, quota: tuple[tuple[str, Any], ...]) -> tuple[str, dict[str, Any]]:
    """One key per (id, role, quota) per test process."""
    return generate_api_key(ident, role, quota=dict(quota) or None, cost=TEST_COST)


def api_key(ident: str, role: str = "scores", **quota: Any) -> tuple[str, dict[str, Any]]:
    """A key `<ident>.<secret>` and its policy entry; `quota` as in the policy
    (requests=..., per=...)."""
    key, entry = _key(ident, role, tuple(sorted(quota.items())))
    return key, dict(entry)
