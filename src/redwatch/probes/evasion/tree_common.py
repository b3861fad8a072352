"""Shared plumbing of the tree-structure probes: getting the ensemble from the target,
handing exact adversarial points to `recheck` without rounding them back across a threshold,
and turning per-sample perturbation sizes into a robustness curve and a finding."""

from __future__ import annotations

from typing import Any

import numpy as np

from redwatch.attacks.base import AttackResult
from redwatch.attacks.trees.ensemble import TreeEnsemble
from redwatch.attacks.trees.milp import unit_norm
from redwatch.exceptions import ProbeError
from redwatch.findings import Finding
from redwatch.probes.base import ProbeContext
from redwatch.probes.evasion.common import (
    EvasionSetup,
    build_finding,
    curve_point,
    epsilons_for,
    median_norm,
    recheck,
    record_headline,
)
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
    epsilons, reference = epsilons_for(setup, norm, ctx)
    x_adv, fooled = recheck(target, setup, unit_exact(setup, result.x_adv), rows)
    sizes = np.full(len(setup.x), np.inf)
    delta = x_adv - setup.x[rows]
    scale = setup.norm_scale(norm)
    sizes[rows] = np.where(fooled[rows], unit_norm(delta, setup.spec.scale, norm) / scale, np.inf)
    curve = [curve_point(e, len(setup.x), setup.correct, sizes <= e) for e in epsilons]
    record_headline(ctx, norm, curve, reference)
    x_all = setup.x.copy()
    x_all[rows] = x_adv
    finding = build_finding(
        probe=probe,
        target=target,
        setup=setup,
        norm=norm,
        curve=curve,
        reference=reference,
        x_adv=x_all,
        fooled=sizes <= reference,
        references=REFERENCES,
        attack_label=label,
        black_box=False,
        metrics={
            "median_norm": median_norm(setup, x_all, fooled, norm),
            "success_rate_any_size": float(fooled[rows].mean()) if len(rows) else 0.0,
            **metrics,
        },
    )
    return finding, sizes
