"""Leaf-walk evasion of tree ensembles of any size (XGBoost, LightGBM, scikit-learn forests):
reads the trees and walks the input across split thresholds until the label flips."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.trees.leafwalk import leaf_walk
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import prepare
from redwatch.probes.evasion.tree_common import REFERENCES, ensemble_of, report
from redwatch.targets.base import Target


class TreeWalkProbe(Probe):
    """Fast structural attack for large tree ensembles; one run gives the whole curve.
    params: samples (100), max_steps (200), norms (["inf"]), epsilons, reference_epsilon."""

    name: ClassVar[str] = "evasion.tree_walk"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"trees"})
    references: ClassVar[tuple[str, ...]] = REFERENCES
    cost: ClassVar[int] = 2
    description: ClassVar[str] = "Leaf-walk evasion of tree ensembles (threshold crossings)"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """One walk per norm on the correctly classified sample rows."""
        ensemble = ensemble_of(target)
        setup = prepare(target, ctx, default_samples=100)
        rows = np.flatnonzero(setup.correct)
        findings = []
        for norm in ctx.params.get("norms", ("inf",)):
            norm = str(norm)
            ctx.progress(0.0, f"leaf walk L{norm}")
            queries0 = target.queries
            result = leaf_walk(
                ensemble,
                setup.x[rows],
                setup.y[rows],
                setup.spec,
                norm=norm,
                max_steps=int(ctx.params.get("max_steps", 200)),
                rng=ctx.rng,
                deadline=ctx.deadline,
            )
            finding, _ = report(
                probe=self.name,
                label="leaf walk",
                target=target,
                ctx=ctx,
                setup=setup,
                rows=rows,
                result=result,
                norm=norm,
                metrics={
                    "queries": target.queries - queries0,
                    "ensemble_evaluations_per_sample": float(np.median(result.queries))
                    if len(rows)
                    else 0.0,
                    "trees": ensemble.n_trees,
                    "leaves": ensemble.n_leaves,
                },
            )
            if finding is not None:
                findings.append(finding)
        return findings
