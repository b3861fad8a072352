"""Shared plumbing of the tree-structure probes: getting the ensemble from the target,
handing exact adversarial points to `recheck` without rounding them back across a threshold,
and turning per-sample perturbation sizes into a robustness curve and a finding."""

from __future__ import annotations

from typing import Any

import numpy as np

from redwatch.attacks.base import AttackResult
from redwatch.attacks.trees.ensemble import TreeEnsemble
from redwatch.exceptions import ProbeError
from redwatch.findings import Finding
from redwatch.probes.base import ProbeContext
from redwatch.probes.evasion.common import EvasionSetup, SweepSpec, recheck, sized_finding
from redwatch.targets.base import Target

REFERENCES = ("AML.T0015", "AML.T0043.000", "OWASP-ML01")


def ensemble_of(target: Target) -> TreeEnsemble:
    """The target's TreeEnsemble; ProbeError when it does not expose one."""
    method = getattr(target, "tree_ensemble", None)
    if method is None or not target.capabilities.trees:
        raise ProbeError(f"target {target.name} does not expose its trees")
    ensemble = method()
    if not isinstance(ensemble, TreeEnsemble):
        raise ProbeError(f"target {target.name} returned no tree ensemble")
    return ensemble


def unit_exact(setup: EvasionSetup, x: np.ndarray) -> np.ndarray:
    """Unit-box coordinates that map back to exactly x: the attacks place points one float
    past a threshold, and a rounding error in the round trip could undo the crossing."""
    u = setup.to_unit(x)
    for _ in range(8):
        back = setup.from_unit(u)
        off = back != x
        if not off.any():
            break
        u = np.where(off, np.nextafter(u, np.where(back < x, np.inf, -np.inf)), u)
    return np.asarray(u)


def report(
    *,
    probe: str,
    label: str,
    target: Target,
    ctx: ProbeContext,
    setup: EvasionSetup,
    rows: np.ndarray,
    result: AttackResult,
    norm: str,
    metrics: dict[str, Any],
) -> tuple[Finding | None, np.ndarray]:
    """Confirm the attack's points on the real target (metered, feasibility-checked), build
    the curve from per-sample sizes and the finding. Returns (finding, sizes over all rows:
    unit-box norm of each confirmed evasion, inf elsewhere)."""
    x_adv, fooled = recheck(target, setup, unit_exact(setup, result.x_adv), rows)
    spec = SweepSpec(probe, REFERENCES, label, black_box=False, norm=norm)
    return sized_finding(target, ctx, setup, spec, rows, x_adv, fooled, metrics)
