"""Adversarial patch probe: a printed-sticker style patch, trained with expectation over
transformation on some images, then judged over thousands of randomly transformed views of
images it has never seen, against a random patch of the same size under the same views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from redwatch.attacks.eot import TransformRanges
from redwatch.attacks.patch import (
    PatchEvaluation,
    PatchResult,
    PatchSetup,
    evaluate_patch,
    random_patch,
    train_patch,
)
from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Evidence, Finding
from redwatch.probes.base import ProbeContext
from redwatch.probes.evasion.common import evasion_mitigations
from redwatch.probes.evasion.uap import (
    REFERENCES,
    ImageProbe,
    ImageSplit,
    image_guard,
    split_images,
    target_class,
)
from redwatch.probes.severity import severity_for
from redwatch.targets.base import Target

_VIEW_SEED_OFFSET = 7919  # views come from their own stream, so training never sees them


class PatchProbe(ImageProbe):
    """Adversarial patch (Brown et al.) with EOT; success over held-out transformed views."""

    name: ClassVar[str] = "evasion.patch"
    category: ClassVar[Category] = Category.EVASION
    references: ClassVar[tuple[str, ...]] = REFERENCES
    cost: ClassVar[int] = 4
    description: ClassVar[str] = "Adversarial sticker patch under random placement and lighting"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Train the patch on half the rows, evaluate on the rest over `views` views."""
        goal = target_class(ctx, target)
        split = split_images(target, ctx, default_samples=200, exclude=goal)
        setup = _patch_setup(split, ctx)
        queries0 = target.queries
        requested = int(ctx.params.get("views", 2000))
        views, train_limit = _share_budget(target.remaining, requested, len(split.held))
        ctx.progress(0.0, f"patch training ({setup.side}px)")
        with target.limit(train_limit):
            trained = self._train(split, setup, ctx, goal)
        ctx.progress(0.7, "patch evaluation over transformed views")
        held = split.unit(split.held)
        y = split.setup.y[split.held] if goal is None else np.full(len(split.held), goal)
        seed = ctx.seed + _VIEW_SEED_OFFSET

        def judge(patch: np.ndarray) -> PatchEvaluation:
            return evaluate_patch(
                split.predict_fn,
                patch,
                held,
                y,
                setup,
                views=views,
                targeted=goal is not None,
                rng=np.random.default_rng(seed),  # same views for both patches
            )

        result = judge(trained.patch)
        control = judge(random_patch(setup, ctx.rng))
        metrics = _metrics(split, setup, trained, result, control, goal)
        metrics["queries"] = target.queries - queries0
        metrics["views_requested"] = requested
        ctx.metrics.update(
            {
                "patch_success_rate": result.success_rate,
                "patch_views": result.views,
                "patch_area_fraction": setup.size,
            }
        )
        finding = self._finding(split, setup, trained, result, metrics) if result.views else None
        return [] if finding is None else [finding]

    @staticmethod
    def _train(
        split: ImageSplit, setup: PatchSetup, ctx: ProbeContext, goal: int | None
    ) -> PatchResult:
        """Optimise the patch on the training rows, in the unit box."""
        y = split.setup.y[split.train] if goal is None else np.full(len(split.train), goal)
        return train_patch(
            split.grad_fn,
            split.unit(split.train),
            y,
            setup,
            steps=int(ctx.params.get("steps", 200)),
            batch_size=int(ctx.params.get("batch_size", 32)),
            lr=float(ctx.params.get("lr", 0.05)),
            targeted=goal is not None,
            rng=ctx.rng,
            stop=ctx.out_of_time,
        )

    def _finding(
        self,
        split: ImageSplit,
        setup: PatchSetup,
        trained: PatchResult,
        result: PatchEvaluation,
        metrics: dict[str, Any],
    ) -> Finding | None:
        """A Finding when the success over held-out views reaches LOW."""
        severity = severity_for("attack_success_rate", result.success_rate)
        if severity is None:
            return None
        goal = metrics["target_class"]
        goal_text = "a wrong answer" if goal is None else f"class {goal}"
        return Finding(
            probe=self.name,
            category=self.category,
            severity=severity,
            title=f"A {setup.size:.0%}-area patch forces {goal_text} in "
            f"{result.success_rate:.0%} of {result.views} transformed views",
            description=(
                f"A {setup.side}x{setup.side}-pixel patch ({setup.size:.0%} of the image), "
                f"trained on {len(split.train)} images, was pasted on {result.images} other "
                f"correctly classified images at random positions, rotations and scales under "
                f"random brightness and noise: {result.successes} of {result.views} views "
                f"({result.success_rate:.1%}) gave {goal_text}; a random patch of the same size "
                f"under the same views did so in {metrics['random_patch_success_rate']:.1%}. "
                "This is a digital simulation of a printed sticker, not a physical test."
            ),
            metrics=metrics,
            evidence=_evidence(split, setup, trained, result),
            mitigations=[*evasion_mitigations(black_box=False), image_guard()],
            references=self.references,
            target=split.target.name,
            key=f"area={setup.size:g}" + ("" if goal is None else f",target={goal}"),
        )


def _share_budget(remaining: int | None, views: int, images: int) -> tuple[int, int | None]:
    """(views to evaluate, query cap for training). Under a query budget, evaluation of the
    patch and of the random control is reserved up to half of what is left, so a tight
    budget still ends in a measured (if smaller) number of views."""
    if views < 1:
        raise ProbeError(f"views must be at least 1, got {views}")
    if remaining is None:
        return views, None
    per_patch = images * -(-views // images)
    reserve = min(2 * per_patch, remaining // 2)
    per_image = max(1, min(per_patch, reserve // 2) // images)  # whole rounds over the images
    return per_image * images, remaining - reserve


def _patch_setup(split: ImageSplit, ctx: ProbeContext) -> PatchSetup:
    """Patch geometry and transformation ranges from the probe options."""
    shape = split.setup.spec.image_shape
    if shape is None or len(shape) not in (2, 3):
        raise ProbeError(f"patch attacks need an image shape (C, H, W), got {shape}")
    image_shape = (1, *shape) if len(shape) == 2 else tuple(shape)
    defaults = TransformRanges()
    p = ctx.params
    ranges = TransformRanges(
        rotation=float(p.get("rotation", defaults.rotation)),
        scale=_pair(p.get("scale", defaults.scale), "scale"),
        brightness=float(p.get("brightness", defaults.brightness)),
        contrast=_pair(p.get("contrast", defaults.contrast), "contrast"),
        noise=float(p.get("noise", defaults.noise)),
    )
    c, h, w = (int(v) for v in image_shape)
    return PatchSetup((c, h, w), float(p.get("patch_size", 0.1)), ranges.check())


def _pair(value: Any, name: str) -> tuple[float, float]:
    """A (low, high) option from a two-item list."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ProbeError(f"{name} must be a [low, high] pair, got {value!r}") from None
    return lo, hi


def _metrics(
    split: ImageSplit,
    setup: PatchSetup,
    trained: PatchResult,
    result: PatchEvaluation,
    control: PatchEvaluation,
    goal: int | None,
) -> dict[str, Any]:
    """Headline numbers of the patch finding."""
    return {
        "success_rate": result.success_rate,
        "views": result.views,
        "successes": result.successes,
        "heldout_images": result.images,
        "train_images": len(split.train),
        "random_patch_success_rate": control.success_rate,
        "patch_area_fraction": setup.size,
        "patch_side_pixels": setup.side,
        "transforms": setup.ranges.to_dict(),
        "training_steps": trained.steps,
        "training_queries": trained.queries,
        "stopped": trained.stopped or result.stopped,
        "target_class": goal,
    }


def _evidence(
    split: ImageSplit, setup: PatchSetup, trained: PatchResult, result: PatchEvaluation
) -> list[Evidence]:
    """The patch (pixel units) and a few fooled views, flattened, with their labels."""
    spec = split.setup.spec
    lo, scale = float(spec.lower.min()), float(spec.scale.max())
    rows = split.held[result.example_rows] if len(result.example_rows) else result.example_rows
    views = split.feasible(result.examples) if len(result.examples) else result.examples
    return [
        Evidence(
            kind="adversarial_patch",
            description=f"the {setup.side}x{setup.side} patch, flattened, in pixel units",
            data={"shape": [setup.image_shape[0], setup.side, setup.side]},
            arrays={"patch": (lo + trained.patch * scale).reshape(-1)},
        ),
        Evidence(
            kind="adversarial_examples",
            description=f"{len(rows)} transformed held-out views the patch fools",
            data={"rows": len(rows), "image_shape": list(setup.image_shape)},
            arrays={
                "x": split.setup.x[rows],
                "x_adv": views,
                "y": split.setup.y[rows],
                "pred": result.example_pred,
            },
        ),
    ]
