"""Exact minimal evasion of small tree ensembles (MILP, Kantchelian et al. 2016): the true
robustness radius of each sample, not an attack's upper bound."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.trees.milp import milp_attack
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import prepare
from redwatch.probes.evasion.tree_common import REFERENCES, ensemble_of, report
from redwatch.targets.base import Target


class TreeExactProbe(Probe):
    """Mixed-integer program per sample, solved to optimality with HiGHS within a per-sample
    time limit. params: samples (20), max_leaves (2000), time_limit (10 s per sample),
    epsilons, reference_epsilon. L∞ in the unit box (fraction of each feature's range)."""

    name: ClassVar[str] = "evasion.tree_exact"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"trees"})
    references: ClassVar[tuple[str, ...]] = REFERENCES
    cost: ClassVar[int] = 3
    description: ClassVar[str] = "Exact minimal evasion of small tree ensembles (MILP)"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Skip (with the reason in ctx.metrics) when the ensemble is too large."""
        ensemble = ensemble_of(target)
        max_leaves = int(ctx.params.get("max_leaves", 2000))
        if ensemble.n_leaves > max_leaves:
            ctx.metrics["skipped"] = (
                f"{ensemble.n_leaves} leaves exceed max_leaves={max_leaves}; "
                "evasion.tree_walk covers large ensembles"
            )
            return []
        setup = prepare(target, ctx, default_samples=20)
        rows = np.flatnonzero(setup.correct)
        ctx.progress(0.0, "exact MILP (Kantchelian)")
        queries0 = target.queries
        result = milp_attack(
            ensemble,
            setup.x[rows],
            setup.y[rows],
            setup.spec,
            norm="inf",
            time_limit=float(ctx.params.get("time_limit", 10.0)),
            deadline=ctx.deadline,
        )
        radius = result.radius
        found = np.isfinite(radius)
        stats = {
            "radius_median": _finite(float(np.median(radius))) if len(radius) else None,
            "radius_min": float(radius.min()) if found.any() else None,
            "radius_max_found": float(radius[found].max()) if found.any() else None,
            "exact_fraction": float(result.exact.mean()) if len(radius) else 0.0,
            "attacked": len(rows),
            "leaves": ensemble.n_leaves,
            "trees": ensemble.n_trees,
        }
        ctx.metrics.update({f"robustness_{k}": v for k, v in stats.items()})
        finding, _ = report(
            probe=self.name,
            label="exact MILP (Kantchelian)",
            target=target,
            ctx=ctx,
            setup=setup,
            rows=rows,
            result=result,
            norm="inf",
            metrics={
                "queries": target.queries - queries0,
                "robustness_radius": {
                    **stats,
                    "radii": [_finite(float(r)) for r in radius],
                    "exact": [bool(e) for e in result.exact],
                },
            },
        )
        return [finding] if finding is not None else []


def _finite(value: float) -> float | None:
    """None for "no evasion found" (inf), so that reports stay plain JSON."""
    return value if np.isfinite(value) else None
