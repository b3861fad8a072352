"""Decision-based black-box evasion: HopSkipJump, batched across samples, labels only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.base import AttackResult, PredictFn
from redwatch.attacks.hopskipjump import hopskipjump
from redwatch.exceptions import QueryBudgetExceeded
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import (
    EvasionSetup,
    SweepSpec,
    epsilons_for,
    prepare,
    recheck,
    sized_finding,
)
from redwatch.targets.base import Target


class HopSkipJumpProbe(Probe):
    """Minimal-perturbation attack that needs only predicted labels: the most realistic
    threat for a public prediction API. One run gives the whole robustness curve."""

    name: ClassVar[str] = "evasion.hopskipjump"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = (
        "AML.T0015",
        "AML.T0043.001",
        "AML.T0040",
        "OWASP-ML01",
    )
    cost: ClassVar[int] = 4
    description: ClassVar[str] = "Decision-based black-box evasion with HopSkipJump (L2)"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """One HopSkipJump run per norm (default L2)."""
        setup = prepare(target, ctx, default_samples=50)
        findings = []
        for norm in ctx.params.get("norms", ("2",)):
            finding = self._attack(target, ctx, setup, str(norm))
            if finding is not None:
                findings.append(finding)
        return findings

    def _attack(
        self, target: Target, ctx: ProbeContext, setup: EvasionSetup, norm: str
    ) -> Finding | None:
        epsilons, _ = epsilons_for(setup, norm, ctx)
        max_queries = int(ctx.params.get("max_queries", 1000))

        def attack(predict_fn: PredictFn, u: np.ndarray, y: np.ndarray) -> AttackResult:
            return hopskipjump(
                predict_fn,
                u,
                y,
                x_init=starting_points(u, y),
                norm=norm,
                max_queries=max_queries,
                eps=min(epsilons) * setup.norm_scale(norm),
                mask=setup.mask,
                rng=ctx.rng,
            )

        spec = SweepSpec(self.name, self.references, "HopSkipJump", black_box=True, norm=norm)
        return minimal_norm_finding(target, ctx, setup, spec, attack, max_queries)


MinimalNormAttack = Callable[[PredictFn, np.ndarray, np.ndarray], AttackResult]


def minimal_norm_finding(
    target: Target,
    ctx: ProbeContext,
    setup: EvasionSetup,
    spec: SweepSpec,
    attack: MinimalNormAttack,
    max_queries: int,
) -> Finding | None:
    """Run a minimal-norm attack once on the correctly classified rows and read the whole
    robustness curve off the (feasible, re-checked) perturbation sizes."""
    norm = spec.norm
    epsilons_for(setup, norm, ctx)  # bad epsilon options fail before any query is spent
    rows = np.flatnonzero(setup.correct)
    if len(rows) == 0:
        return None
    queries0 = target.queries

    def predict_fn(u: np.ndarray) -> np.ndarray:
        return target.predict(setup.from_unit(u))

    ctx.progress(0.0, f"{spec.attack_label} L{norm}")
    u = setup.to_unit(setup.x[rows])
    try:
        with target.until(ctx.deadline):  # the time share ends the attack, not the probe
            res = attack(predict_fn, u, setup.y[rows])
    except QueryBudgetExceeded:  # spent before the attack could start
        return None
    x_adv, fooled = recheck(target, setup, res.x_adv, rows)
    ctx.metrics[f"median_queries_per_sample_L{norm}"] = float(np.median(res.queries))
    metrics = {
        "queries": target.queries - queries0,
        "max_queries_per_sample": max_queries,
        "median_queries_per_sample": float(np.median(res.queries)),
        "stopped": res.stopped,
    }
    return sized_finding(target, ctx, setup, spec, rows, x_adv, fooled, metrics)[0]


def starting_points(u: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each row, the nearest other row of a different class (unit box, L2).

    Random noise rarely lands in another class for tabular models, so HopSkipJump starts
    from real examples of another class instead; the attack checks each start with one
    query, restores immutable features, and falls back to noise where a start fails."""
    dist = ((u[:, None, :] - u[None, :, :]) ** 2).sum(axis=2)
    dist[y[:, None] == y[None, :]] = np.inf
    nearest = dist.argmin(axis=1)
    return np.where(np.isfinite(dist.min(axis=1))[:, None], u[nearest], u)
