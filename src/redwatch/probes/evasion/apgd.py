"""White-box evasion with Auto-PGD: APGD-CE, then APGD-DLR on the rows CE did not fool (the
white-box core of AutoAttack, Croce & Hein 2020), L∞ and L2, untargeted or targeted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from redwatch.attacks.apgd import apgd
from redwatch.attacks.base import AttackResult, lp_norm
from redwatch.attacks.losses import dlr_min_classes
from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import EvasionSetup, SweepSpec, prepare, sweep
from redwatch.targets.base import Target


def most_likely_wrong(target: Target, setup: EvasionSetup) -> np.ndarray:
    """Per evaluation row, the wrong class the model scores highest: the easiest target."""
    if not target.capabilities.scores:
        raise ProbeError(f"targeted mode needs scores; target {target.name} gives labels only")
    proba = np.array(target.predict_proba(setup.x), dtype=np.float64)
    proba[np.arange(len(setup.y)), setup.y] = -np.inf
    return np.asarray(proba.argmax(axis=1), dtype=np.int64)


def dlr_support(target: Target, targeted: bool) -> str | None:
    """Why the DLR loss cannot be used on this target (None: it can)."""
    if "dlr" not in target.gradient_losses:
        return f"target {target.name} offers only {', '.join(target.gradient_losses)} gradients"
    k = target.capabilities.n_classes
    need = dlr_min_classes(targeted)
    if k is None or k < need:
        kind = "targeted " if targeted else ""
        return f"the {kind}DLR loss needs at least {need} classes; the model has {k}"
    return None


@dataclass
class _Options:
    """Probe options from redwatch.yaml / the command line."""

    steps: int
    restarts: int
    targeted: bool
    losses: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"APGD ({'+'.join(loss.upper() for loss in self.losses)})"


class _CombinedAPGD:
    """APGD-CE at one epsilon, then APGD-DLR on the rows it did not fool."""

    def __init__(
        self,
        target: Target,
        setup: EvasionSetup,
        norm: str,
        opts: _Options,
        goals: np.ndarray | None,
        rng: np.random.Generator,
    ) -> None:
        self.target = target
        self.setup = setup
        self.norm = norm
        self.opts = opts
        self.goals = goals  # targets for the correctly classified rows, in sweep order
        self.rng = rng

    def value_grad(
        self, u: np.ndarray, y: np.ndarray, loss: str, y_target: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        # chain rule: the attack moves in the unit box, the model sees feature units
        values, grads = self.target.loss_value_and_gradient(
            self.setup.from_unit(u), y, loss, y_target
        )
        return values, grads * self.setup.spec.scale

    def predict(self, u: np.ndarray) -> np.ndarray:
        return self.target.predict(self.setup.from_unit(u))

    def run(
        self, loss: str, u0: np.ndarray, y: np.ndarray, goals: np.ndarray | None, eps: float
    ) -> AttackResult:
        return apgd(
            self.value_grad,
            self.predict,
            u0,
            y,
            eps=eps,
            norm=self.norm,
            loss=loss,
            steps=self.opts.steps,
            restarts=self.opts.restarts,
            targeted=goals is not None,
            y_target=goals,
            mask=self.setup.mask,
            rng=self.rng,
        )

    def __call__(self, u0: np.ndarray, y: np.ndarray, eps: float) -> AttackResult:
        goals = self.goals
        if goals is not None and len(goals) != len(u0):
            raise ProbeError("targeted APGD got rows it has no target classes for")
        result = self.run(self.opts.losses[0], u0, y, goals, eps)
        for loss in self.opts.losses[1:]:
            todo = np.flatnonzero(~result.success)
            if result.stopped is not None or len(todo) == 0:
                break
            more = self.run(loss, u0[todo], y[todo], None if goals is None else goals[todo], eps)
            result.x_adv[todo] = more.x_adv
            result.success[todo] = more.success
            result.queries[todo] += more.queries
            result.stopped = more.stopped
        result.norms = np.where(result.success, lp_norm(result.x_adv - u0, self.norm), 0.0)
        return result


class APGDProbe(Probe):
    """Auto-PGD (CE then DLR) at several epsilons; one finding per norm."""

    name: ClassVar[str] = "evasion.apgd"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"gradients"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0015", "AML.T0043.000", "OWASP-ML01")
    cost: ClassVar[int] = 3
    description: ClassVar[str] = (
        "White-box Auto-PGD evasion, CE then DLR loss (AutoAttack's white-box core), L∞ and L2"
    )

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Sweep the epsilons once per norm (default L∞ and L2)."""
        setup = prepare(target, ctx, default_samples=100)
        opts = _options(ctx.params)
        skipped = dlr_support(target, opts.targeted)
        if skipped is not None:
            opts.losses = ("ce",)
            ctx.metrics["apgd_dlr_skipped"] = skipped
        ctx.metrics["apgd_losses"] = "+".join(opts.losses)
        goals = None
        if opts.targeted:
            goals = most_likely_wrong(target, setup)[setup.correct]
        findings = []
        for norm in ctx.params.get("norms", ("inf", "2")):
            attack = _CombinedAPGD(target, setup, str(norm), opts, goals, ctx.rng)
            spec = SweepSpec(
                self.name, self.references, opts.label, black_box=False, norm=str(norm)
            )
            finding = sweep(target, ctx, setup, spec, attack)
            if finding is not None:
                finding.metrics.update(
                    steps=opts.steps,
                    restarts=opts.restarts,
                    losses=list(opts.losses),
                    targeted=opts.targeted,
                )
                if skipped is not None:
                    finding.metrics["dlr_skipped"] = skipped
                findings.append(finding)
        return findings


def _options(params: dict[str, Any]) -> _Options:
    """Validated steps / restarts / targeted options."""
    steps = int(params.get("steps", 50))
    restarts = int(params.get("restarts", 1))
    if steps < 1 or restarts < 1:
        raise ProbeError(f"steps and restarts must be at least 1, got {steps} and {restarts}")
    return _Options(steps, restarts, flag(params.get("targeted", False)), ("ce", "dlr"))


def flag(value: Any) -> bool:
    """A yes/no option from YAML (a bool) or the command line (a string)."""
    if isinstance(value, str):
        if value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if value.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ProbeError(f"expected true or false, got {value!r}")
    return bool(value)
