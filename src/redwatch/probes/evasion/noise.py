"""Random-noise robustness: how much accuracy the model loses to unremarkable noise.

Not an attack but a baseline: if noise alone breaks the model, no adversary is needed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from redwatch.attacks.noise import random_noise
from redwatch.findings import Category, Evidence, Finding, Mitigation
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import EvasionSetup, epsilons_for, prepare
from redwatch.probes.severity import severity_for
from redwatch.targets.base import Target


class NoiseRobustnessProbe(Probe):
    """Uniform L∞ noise at several sizes, several draws per row, within bounds and mask."""

    name: ClassVar[str] = "evasion.noise"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0015", "OWASP-ML01", "NIST-MEASURE-2.5")
    cost: ClassVar[int] = 1
    description: ClassVar[str] = "Accuracy under random uniform noise (robustness baseline)"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Measure accuracy under noise at each epsilon; a finding if the drop is material."""
        setup = prepare(target, ctx, default_samples=200)
        epsilons, reference = epsilons_for(setup, "inf", ctx)
        draws = int(ctx.params.get("draws", 5))
        rng = ctx.rng
        clean = float(setup.correct.mean())
        curve = []
        for i, eps in enumerate(epsilons):
            if ctx.out_of_time():
                break
            ctx.progress(i / len(epsilons), f"noise ε={eps:g}")
            acc = self._noisy_accuracy(target, setup, eps, draws, rng)
            curve.append(
                {"epsilon": eps, "accuracy": acc, "success_rate": 1 - acc / max(clean, 1e-12)}
            )
        ref = next((p for p in curve if p["epsilon"] == reference), None)
        if ref is None:
            return []
        drop = clean - ref["accuracy"]
        ctx.metrics.update(clean_accuracy=clean, epsilon=reference, accuracy_drop=drop)
        severity = severity_for("noise_accuracy_drop", drop)
        if severity is None:
            return []
        return [
            Finding(
                probe=self.name,
                category=self.category,
                severity=severity,
                title=f"Random noise of ε={reference:g} costs {drop:.0%} accuracy",
                description=(
                    f"Uniform noise of at most {reference:g} of each feature's range lowered "
                    f"accuracy from {clean:.1%} to {ref['accuracy']:.1%} ({draws} draws per "
                    "row). The model is brittle even without an adversary."
                ),
                metrics={
                    "clean_accuracy": clean,
                    "epsilon": reference,
                    "norm": "inf",
                    "accuracy_drop": drop,
                    "draws": draws,
                    "samples": len(setup.x),
                    "curve": curve,
                },
                evidence=[
                    Evidence(
                        "robustness_curve", "accuracy under random noise", data={"curve": curve}
                    )
                ],
                mitigations=[
                    Mitigation(
                        "retrain",
                        "Train with noise augmentation",
                        "Augment training data with noise of the reference size.",
                    ),
                    Mitigation(
                        "guard_rule",
                        "Quantize inputs before the model",
                        "Feature squeezing removes small noise.",
                        {"stage": "sanitize"},
                    ),
                ],
                references=self.references,
                target=target.name,
                key="norm=inf",
            )
        ]

    @staticmethod
    def _noisy_accuracy(
        target: Target, setup: EvasionSetup, eps: float, draws: int, rng: np.random.Generator
    ) -> float:
        x_rep = np.repeat(setup.x, draws, axis=0)
        u_noisy = random_noise(setup.to_unit(x_rep), eps, norm="inf", mask=setup.mask, rng=rng)
        x_noisy = setup.spec.project(setup.from_unit(u_noisy), x_rep)
        return float(np.mean(target.predict(x_noisy) == np.repeat(setup.y, draws)))
