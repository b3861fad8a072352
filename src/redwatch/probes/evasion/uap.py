"""Universal adversarial perturbation probe: one perturbation, trained on some images, that
makes the model err on images it has never seen. Also holds the plumbing the image-only
probes share (applicability, train / held-out split, unit-box model functions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from redwatch.attacks.uap import UAPResult, apply_delta, random_sign_delta, uap
from redwatch.exceptions import ProbeError, QueryBudgetExceeded
from redwatch.findings import Category, Evidence, Finding, Mitigation
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.evasion.common import (
    EvasionSetup,
    epsilons_for,
    evasion_mitigations,
    prepare,
)
from redwatch.probes.severity import severity_for
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities

REFERENCES = ("AML.T0015", "AML.T0043.000", "OWASP-ML01")


class ImageProbe(Probe):
    """A white-box probe that only makes sense on images (image_shape in the input spec)."""

    requires: ClassVar[frozenset[str]] = frozenset({"gradients"})

    @classmethod
    def why_not(cls, capabilities: Capabilities) -> str | None:
        """Needs gradients and an input spec with an image shape."""
        reason = super().why_not(capabilities)
        if reason is None:
            spec = capabilities.input_spec
            if spec is None or not spec.is_image:
                reason = "image inputs only; declare image_shape in redwatch.yaml for images"
        return reason


@dataclass
class ImageSplit:
    """Correctly classified rows split into a training part and a held-out part (indices
    into setup.x), plus model functions that work in the unit box."""

    setup: EvasionSetup
    train: np.ndarray
    held: np.ndarray
    target: Target

    def unit(self, rows: np.ndarray) -> np.ndarray:
        """The rows in the unit box."""
        return np.clip(self.setup.to_unit(self.setup.x[rows]), 0.0, 1.0)

    def grad_fn(self, u: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Loss gradient w.r.t. unit-box inputs (chain rule through the feature scale)."""
        return self.target.loss_gradient(self.setup.from_unit(u), y) * self.setup.spec.scale

    def predict_fn(self, u: np.ndarray) -> np.ndarray:
        """Labels of unit-box inputs, made feasible first."""
        return self.target.predict(self.feasible(u))

    def feasible(self, u: np.ndarray) -> np.ndarray:
        """Unit-box inputs in feature units, inside the declared pixel bounds."""
        x = self.setup.from_unit(u)
        return self.setup.spec.project(x, x)


def split_images(
    target: Target, ctx: ProbeContext, default_samples: int, exclude: int | None = None
) -> ImageSplit:
    """Pick the rows (seeded), keep those the model gets right (and whose label is not the
    attack's target class) and split them by `train_fraction` (default 0.5)."""
    setup = prepare(target, ctx, default_samples)
    keep = setup.correct if exclude is None else setup.correct & (setup.y != exclude)
    rows = np.flatnonzero(keep)
    fraction = float(ctx.params.get("train_fraction", 0.5))
    if not 0 < fraction < 1:
        raise ProbeError(f"train_fraction must lie strictly between 0 and 1, got {fraction}")
    if len(rows) < 2:
        raise ProbeError("too few correctly classified images to split; raise `samples`")
    rows = rows[ctx.rng.permutation(len(rows))]
    cut = min(max(1, round(fraction * len(rows))), len(rows) - 1)
    return ImageSplit(setup, np.sort(rows[:cut]), np.sort(rows[cut:]), target)


def target_class(ctx: ProbeContext, target: Target) -> int | None:
    """The `target_class` option as a class index, or None (untargeted)."""
    value = ctx.params.get("target_class")
    if value is None:
        return None
    k = target.capabilities.n_classes
    t = int(value)
    if t < 0 or (k is not None and t >= k):
        raise ProbeError(f"target_class {t} is not a class index of the model")
    return t


def image_guard() -> Mitigation:
    """Input-side defence for universal perturbations and patches."""
    return Mitigation(
        "guard_rule",
        "Smooth or screen image inputs at runtime",
        "Randomized smoothing (majority vote over noisy copies) blunts small universal "
        "perturbations; for patches, screen inputs for small high-contrast regions that "
        "dominate the model's attribution and reject or inpaint them before the model.",
        {"stage": "sanitize"},
    )


class UAPProbe(ImageProbe):
    """Universal perturbation at several epsilons; the finding is on held-out images."""

    name: ClassVar[str] = "evasion.uap"
    category: ClassVar[Category] = Category.EVASION
    references: ClassVar[tuple[str, ...]] = REFERENCES
    cost: ClassVar[int] = 3
    description: ClassVar[str] = "One universal perturbation that fools unseen images"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Train a UAP per epsilon on half the rows; report its fooling rate on the rest."""
        goal = target_class(ctx, target)
        split = split_images(target, ctx, default_samples=400, exclude=goal)
        findings = []
        for norm in ctx.params.get("norms", ("inf",)):
            finding = self._one_norm(split, ctx, str(norm), goal)
            if finding is not None:
                findings.append(finding)
        return findings

    def _one_norm(
        self, split: ImageSplit, ctx: ProbeContext, norm: str, goal: int | None
    ) -> Finding | None:
        """Sweep the epsilons for one norm and build the finding at the reference one."""
        epsilons, reference = epsilons_for(split.setup, norm, ctx)
        curve: list[dict[str, float]] = []
        best: tuple[UAPResult, np.ndarray, np.ndarray] | None = None
        queries0 = split.target.queries
        for i, eps in enumerate(epsilons):
            if ctx.out_of_time():
                break
            ctx.progress(i / len(epsilons), f"UAP L{norm} ε={eps:g}")
            result = self._train(split, ctx, norm, eps, goal)
            try:
                x_adv, pred = self._held_out(split, result.delta)
            except QueryBudgetExceeded:
                break
            fooled = _fooled(pred, split.setup.y[split.held], goal)
            curve.append(_point(eps, result, fooled))
            if eps == reference:
                best = (result, x_adv, pred)
            if result.stopped is not None:
                break
        if best is None:
            return None
        return self._finding(split, ctx, norm, reference, curve, best, queries0, goal)

    def _train(
        self, split: ImageSplit, ctx: ProbeContext, norm: str, eps: float, goal: int | None
    ) -> UAPResult:
        """One universal perturbation on the training rows, in the unit box."""
        y = split.setup.y[split.train] if goal is None else np.full(len(split.train), goal)
        return uap(
            split.grad_fn,
            split.predict_fn,
            split.unit(split.train),
            y,
            eps=eps,
            norm=norm,
            epochs=int(ctx.params.get("epochs", 10)),
            batch_size=int(ctx.params.get("batch_size", 16)),
            targeted=goal is not None,
            mask=split.setup.mask,
            rng=ctx.rng,
            stop=ctx.out_of_time,
        )

    @staticmethod
    def _held_out(split: ImageSplit, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Held-out images plus δ, feasible, in feature units, and the model's labels."""
        x_adv = split.feasible(apply_delta(split.unit(split.held), delta, (0.0, 1.0)))
        return x_adv, split.target.predict(x_adv)

    def _finding(
        self,
        split: ImageSplit,
        ctx: ProbeContext,
        norm: str,
        reference: float,
        curve: list[dict[str, float]],
        best: tuple[UAPResult, np.ndarray, np.ndarray],
        queries0: int,
        goal: int | None,
    ) -> Finding | None:
        """Record the headline numbers; a Finding when the held-out rate reaches LOW."""
        result, x_adv, pred = best
        held = split.held
        fooled = _fooled(pred, split.setup.y[held], goal)
        rate = float(fooled.mean())
        baseline = _random_baseline(split, ctx, norm, reference, goal)
        metrics: dict[str, Any] = {
            "norm": norm,
            "epsilon": reference,
            "fooling_rate_heldout": rate,
            "fooling_rate_train": result.train_fooling_rate,
            "random_perturbation_fooling_rate": baseline,
            "train_images": len(split.train),
            "heldout_images": len(held),
            "epochs": result.epochs,
            "target_class": goal,
            "curve": curve,
            "queries": split.target.queries - queries0,
        }
        ctx.metrics[f"uap_fooling_rate_L{norm}"] = rate
        ctx.metrics[f"uap_epsilon_L{norm}"] = reference
        severity = severity_for("attack_success_rate", rate)
        if severity is None:
            return None
        name = "L∞" if norm == "inf" else "L2"
        goal_text = "into errors" if goal is None else f"into class {goal}"
        return Finding(
            probe=self.name,
            category=self.category,
            severity=severity,
            title=f"One universal {name} perturbation (ε={reference:g}) turns {rate:.0%} of "
            f"unseen images {goal_text}",
            description=(
                f"A single perturbation of {name} size {reference:g} (pixel-intensity units of "
                f"the image range), trained on {len(split.train)} images, turns "
                f"{rate:.1%} of {len(held)} other correctly classified images {goal_text}; "
                f"a random perturbation of the same size does so for {baseline:.1%}. An "
                "attacker can precompute it once and apply it to any input."
            ),
            metrics=metrics,
            evidence=_evidence(split, result.delta, x_adv, pred, fooled),
            mitigations=[*evasion_mitigations(black_box=False), image_guard()],
            references=self.references,
            target=split.target.name,
            key=f"norm={norm}" + ("" if goal is None else f",target={goal}"),
        )


def _fooled(pred: np.ndarray, y: np.ndarray, goal: int | None) -> np.ndarray:
    """Rows the perturbation fooled: label changed, or equal to the target class."""
    return np.asarray(pred != y if goal is None else pred == goal)


def _point(eps: float, result: UAPResult, fooled: np.ndarray) -> dict[str, float]:
    """One point of the curve: held-out and training fooling rates at eps."""
    return {
        "epsilon": eps,
        "success_rate": float(fooled.mean()) if len(fooled) else 0.0,
        "train_success_rate": result.train_fooling_rate,
    }


def _random_baseline(
    split: ImageSplit, ctx: ProbeContext, norm: str, eps: float, goal: int | None
) -> float:
    """Held-out fooling rate of a random perturbation of the same size (NaN if no budget)."""
    delta = random_sign_delta(split.setup.x.shape[1], eps, norm, split.setup.mask, ctx.rng)
    try:
        _, pred = UAPProbe._held_out(split, delta)
    except QueryBudgetExceeded:
        return float("nan")
    return float(_fooled(pred, split.setup.y[split.held], goal).mean())


def _evidence(
    split: ImageSplit, delta: np.ndarray, x_adv: np.ndarray, pred: np.ndarray, fooled: np.ndarray
) -> list[Evidence]:
    """The perturbation itself (feature units) and a few fooled held-out images."""
    spec = split.setup.spec
    pick = np.flatnonzero(fooled)[:8]
    rows = split.held[pick]
    return [
        Evidence(
            kind="universal_perturbation",
            description="the universal perturbation, flattened, in feature units",
            data={"image_shape": list(spec.image_shape or ())},
            arrays={"delta": delta * spec.scale},
        ),
        Evidence(
            kind="adversarial_examples",
            description=f"{len(rows)} held-out images the universal perturbation fools",
            data={"rows": len(rows), "image_shape": list(spec.image_shape or ())},
            arrays={
                "x": split.setup.x[rows],
                "x_adv": x_adv[pick],
                "y": split.setup.y[rows],
                "pred": pred[pick],
            },
        ),
    ]
