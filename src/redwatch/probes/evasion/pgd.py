"""White-box evasion: PGD (Madry et al.) with the target's input gradients, L∞ and L2."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.base import AttackResult
from redwatch.attacks.pgd import pgd
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.apgd import flag, most_likely_wrong
from redwatch.probes.evasion.common import SweepSpec, prepare, sweep
from redwatch.targets.base import Target


class PGDProbe(Probe):
    """Projected gradient descent at several epsilons; one finding per norm."""

    name: ClassVar[str] = "evasion.pgd"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"gradients"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0015", "AML.T0043.000", "OWASP-ML01")
    cost: ClassVar[int] = 2
    description: ClassVar[str] = "White-box PGD evasion (L∞ and L2) using input gradients"
    # params: steps (40), restarts (1), norms, epsilons, targeted (false)

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Sweep the epsilons once per norm (default L∞ and L2)."""
        setup = prepare(target, ctx, default_samples=100)
        scale = setup.spec.scale
        steps = int(ctx.params.get("steps", 40))
        restarts = int(ctx.params.get("restarts", 1))
        # targeted: push each row towards the wrong class the model already scores highest
        targeted = flag(ctx.params.get("targeted", False))
        goals = most_likely_wrong(target, setup)[setup.correct] if targeted else None

        def grad_fn(u: np.ndarray, y: np.ndarray) -> np.ndarray:
            # chain rule: the attack moves in the unit box, the model sees feature units
            return target.loss_gradient(setup.from_unit(u), y) * scale

        def predict_fn(u: np.ndarray) -> np.ndarray:
            return target.predict(setup.from_unit(u))

        findings = []
        for norm in ctx.params.get("norms", ("inf", "2")):
            norm = str(norm)

            def attack(u0: np.ndarray, y: np.ndarray, eps: float, norm: str = norm) -> AttackResult:
                return pgd(
                    grad_fn,
                    predict_fn,
                    u0,
                    y if goals is None else goals,
                    eps=eps,
                    norm=norm,
                    steps=steps,
                    restarts=restarts,
                    targeted=goals is not None,
                    mask=setup.mask,
                    rng=ctx.rng,
                )

            spec = SweepSpec(self.name, self.references, "PGD", black_box=False, norm=norm)
            finding = sweep(target, ctx, setup, spec, attack)
            if finding is not None:
                finding.metrics["steps"] = steps
                finding.metrics["targeted"] = targeted
                findings.append(finding)
        return findings
