"""Campaign diff: which findings are new, still open, regressed, or fixed since last time."""

from __future__ import annotations

from collections.abc import Sequence, Set

from redwatch.findings import Finding


def diff_findings(
    current: Sequence[Finding], history: Sequence[Set[str]]
) -> tuple[dict[str, str], list[str]]:
    """Compare this campaign's findings with earlier campaigns on the same target.

    `history` holds the fingerprint sets of the completed campaigns, oldest first. Returns
    the status of every current fingerprint ("new": never seen; "open": in the previous
    campaign; "regressed": seen before the previous campaign, absent from it, back now) and
    the sorted fingerprints that were in the previous campaign and are gone ("fixed").
    """
    previous: Set[str] = history[-1] if history else frozenset()
    earlier: set[str] = set().union(*history[:-1])
    status: dict[str, str] = {}
    for finding in current:
        fp = finding.fingerprint
        if fp in previous:
            status[fp] = "open"
        elif fp in earlier:
            status[fp] = "regressed"
        else:
            status[fp] = "new"
    fixed = sorted(set(previous) - status.keys())
    return status, fixed
