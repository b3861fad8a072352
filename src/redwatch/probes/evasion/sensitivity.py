"""Per-feature sensitivity for tabular models: which single feature an attacker can move
to change the decision. Ranks the features a fraud ring would tamper with first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import EvasionSetup, prepare
from redwatch.probes.severity import severity_for
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities


class FeatureSensitivityProbe(Probe):
    """Move one mutable feature at a time by ±step of its range; count decision flips."""

    name: ClassVar[str] = "evasion.sensitivity"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0043.003", "AML.T0015", "OWASP-ML01")
    cost: ClassVar[int] = 1
    description: ClassVar[str] = "Single-feature tampering: decision flips per mutable feature"

    @classmethod
    def why_not(cls, capabilities: Capabilities) -> str | None:
        """Tabular targets only: single pixels are not a meaningful unit of tampering."""
        spec = capabilities.input_spec
        if spec is not None and spec.is_image:
            return "tabular inputs only; this target takes images"
        return super().why_not(capabilities)

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Flip rate per feature at the reference step; finding on the worst feature."""
        setup = prepare(target, ctx, default_samples=200)
        step = float(ctx.params.get("step", 0.1))
        base = target.predict(setup.x)
        rates: dict[str, float] = {}
        examples: dict[str, np.ndarray] = {}
        features = np.flatnonzero(setup.mask)
        for n, i in enumerate(features):
            if ctx.out_of_time():
                break
            name = setup.spec.feature_names[i]
            ctx.progress(n / max(len(features), 1), f"feature {name}")
            flipped, x_flip = self._flips(target, setup, int(i), step, base)
            rates[name] = float(flipped.mean())
            if flipped.any():
                examples[name] = x_flip[flipped][:10]
        if not rates:
            return []
        ranked = sorted(rates.items(), key=lambda kv: -kv[1])
        worst, rate = ranked[0]
        ctx.metrics.update(step=step, most_sensitive_feature=worst, single_feature_flip_rate=rate)
        severity = severity_for("single_feature_flip_rate", rate)
        if severity is None:
            return []
        return [self._finding(target, setup, severity, ranked, step, examples.get(worst))]

    @staticmethod
    def _flips(
        target: Target, setup: EvasionSetup, i: int, step: float, base: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose prediction changes when feature i moves up or down by step·range."""
        delta = np.zeros(setup.spec.n_features)
        delta[i] = step * setup.spec.scale[i]
        up = setup.spec.project(setup.x + delta, setup.x)
        down = setup.spec.project(setup.x - delta, setup.x)
        preds = target.predict(np.vstack([up, down]))
        n = len(setup.x)
        flip_up, flip_down = preds[:n] != base, preds[n:] != base
        return flip_up | flip_down, np.where(flip_up[:, None], up, down)

    def _finding(
        self,
        target: Target,
        setup: EvasionSetup,
        severity: Severity,
        ranked: list[tuple[str, float]],
        step: float,
        example: np.ndarray | None,
    ) -> Finding:
        worst, rate = ranked[0]
        arrays = {} if example is None else {"x_flipped": example}
        return Finding(
            probe=self.name,
            category=self.category,
            severity=severity,
            title=f"Changing {worst!r} alone by {step:.0%} of its range flips {rate:.0%} "
            "of decisions",
            description=(
                f"Moving the single feature {worst!r} up or down by {step:.0%} of its observed "
                f"range changed the model's decision for {rate:.1%} of rows. If an attacker "
                "controls this feature, the model is cheap to evade."
            ),
            metrics={
                "step": step,
                "single_feature_flip_rate": rate,
                "samples": len(setup.x),
                "flip_rate_by_feature": [{"feature": f, "flip_rate": r} for f, r in ranked],
            },
            evidence=[
                Evidence(
                    "flipped_rows",
                    f"rows whose decision flipped via {worst!r}",
                    data={"feature": worst},
                    arrays=arrays,
                )
            ],
            mitigations=[
                Mitigation(
                    "config",
                    f"Declare {worst!r} immutable or verify it server-side",
                    "If users cannot really set this feature, mark it immutable in "
                    "redwatch.yaml; otherwise validate it against a trusted source.",
                ),
                Mitigation(
                    "retrain",
                    "Reduce reliance on one feature",
                    "Regularize or constrain monotonicity so no single feature dominates.",
                ),
            ],
            references=self.references,
            target=target.name,
            key="single-feature",
        )
