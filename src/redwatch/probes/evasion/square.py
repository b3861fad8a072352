"""Score-based black-box evasion: the Square attack at several epsilons, L∞ by default."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.base import AttackResult
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

            def attack(u0: np.ndarray, y: np.ndarray, eps: float, norm: str = norm) -> AttackResult:
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

            spec = SweepSpec(self.name, self.references, "Square", black_box=True, norm=norm)
            finding = sweep(target, ctx, setup, spec, attack)
            if finding is not None:
                finding.metrics["max_queries_per_sample"] = max_queries
                findings.append(finding)
        return findings
