"""Score-based black-box evasion: the Square attack at several epsilons, L∞ by default."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.base import AttackResult, lp_norm
from redwatch.attacks.square import square
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import SweepSpec, prepare, sweep
from redwatch.targets.base import Target


class SquareProbe(Probe):
    """Square attack (Andriushchenko et al.): random square updates guided by scores only."""

    name: ClassVar[str] = "evasion.square"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"scores"})
    references: ClassVar[tuple[str, ...]] = (
        "AML.T0015",
        "AML.T0043.001",
        "AML.T0040",
        "OWASP-ML01",
    )
    cost: ClassVar[int] = 3
    description: ClassVar[str] = "Score-based black-box evasion with the Square attack"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Sweep the epsilons once per norm (default L∞)."""
        setup = prepare(target, ctx, default_samples=100)
        max_queries = int(ctx.params.get("max_queries", 500))
        p_init = float(ctx.params.get("p_init", 0.8))

        def proba_fn(u: np.ndarray) -> np.ndarray:
            return target.predict_proba(setup.from_unit(u))

        findings = []
        for norm in ctx.params.get("norms", ("inf",)):
            norm = str(norm)

            def run_square(
                u0: np.ndarray, y: np.ndarray, eps: float, norm: str = norm
            ) -> AttackResult:
                return square(
                    proba_fn,
                    u0,
                    y,
                    eps=eps,
                    norm=norm,
                    max_queries=max_queries,
                    p_init=p_init,
                    mask=setup.mask,
                    rng=ctx.rng,
                    image_shape=setup.spec.image_shape,
                )

            attack = WarmSweep(run_square, norm)
            spec = SweepSpec(self.name, self.references, "Square", black_box=True, norm=norm)
            finding = sweep(target, ctx, setup, spec, attack)
            if finding is not None:
                finding.metrics["max_queries_per_sample"] = max_queries
                findings.append(finding)
        return findings


class WarmSweep:
    """A fixed-epsilon attack swept over growing epsilons: a row fooled at a smaller epsilon
    is fooled at every larger one (its adversarial lies inside the larger ball), so only the
    rows still standing are attacked again. Saves the queries of every easy row."""

    def __init__(
        self, attack: Callable[[np.ndarray, np.ndarray, float], AttackResult], norm: str
    ) -> None:
        self.attack = attack
        self.norm = norm
        self.last: AttackResult | None = None
        self.last_eps = -np.inf

    def __call__(self, u0: np.ndarray, y: np.ndarray, eps: float) -> AttackResult:
        """Attack the rows not fooled at a smaller epsilon; reuse the others' adversarials."""
        prev = self.last
        if prev is None or eps < self.last_eps or prev.x_adv.shape != u0.shape:
            result = self.attack(u0, y, eps)
        else:
            todo = np.flatnonzero(~prev.success)
            result = AttackResult(
                prev.x_adv.copy(), prev.success.copy(), np.zeros(len(u0), np.int64), prev.norms
            )
            if len(todo):
                fresh = self.attack(u0[todo], y[todo], eps)
                result.x_adv[todo] = fresh.x_adv
                result.success[todo] = fresh.success
                result.queries[todo] = fresh.queries
                result.norms = np.where(result.success, lp_norm(result.x_adv - u0, self.norm), 0.0)
                result.stopped = fresh.stopped
        self.last, self.last_eps = result, eps
        return result
