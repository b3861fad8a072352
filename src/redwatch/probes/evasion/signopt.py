"""Decision-based black-box evasion with Sign-OPT (L2), batched across samples, labels only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.base import AttackResult, PredictFn
from redwatch.attacks.signopt import signopt
from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import SweepSpec, epsilons_for, prepare
from redwatch.probes.evasion.hopskipjump import minimal_norm_finding, starting_points
from redwatch.targets.base import Target


class SignOPTProbe(Probe):
    """Minimal-perturbation attack from predicted labels alone, often nearer the boundary
    than HopSkipJump for the same queries. One run gives the whole robustness curve."""

    name: ClassVar[str] = "evasion.signopt"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = (
        "AML.T0015",
        "AML.T0043.001",
        "AML.T0040",
        "OWASP-ML01",
    )
    cost: ClassVar[int] = 4
    description: ClassVar[str] = "Decision-based black-box evasion with Sign-OPT (L2)"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """One Sign-OPT run (L2 only: the attack's geometry is Euclidean)."""
        norms = [str(n).lower().lstrip("l") for n in ctx.params.get("norms", ("2",))]
        if norms != ["2"]:
            raise ProbeError(f"evasion.signopt supports the L2 norm only, got norms {norms}")
        setup = prepare(target, ctx, default_samples=50)
        epsilons, _ = epsilons_for(setup, "2", ctx)
        max_queries = int(ctx.params.get("max_queries", 2000))
        stop = min(epsilons) * setup.norm_scale("2")

        def attack(predict_fn: PredictFn, u: np.ndarray, y: np.ndarray) -> AttackResult:
            return signopt(
                predict_fn,
                u,
                y,
                x_init=starting_points(u, y),
                max_queries=max_queries,
                eps=stop,
                mask=setup.mask,
                rng=ctx.rng,
            )

        spec = SweepSpec(self.name, self.references, "Sign-OPT", black_box=True, norm="2")
        finding = minimal_norm_finding(target, ctx, setup, spec, attack, max_queries)
        return [] if finding is None else [finding]
