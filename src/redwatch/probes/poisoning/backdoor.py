"""Backdoor poisoning (BadNets): stamp a trigger on k % of the training rows, relabel them to
a target class, retrain, and measure how often the trigger turns clean test rows of other
classes into that class — and whether clean accuracy gives the backdoor away."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from redwatch.attacks.poisoning import (
    Trigger,
    attack_success,
    backdoor,
    image_trigger,
    stamp,
    tabular_trigger,
)
from redwatch.exceptions import ProbeError
from redwatch.probes.base import ProbeContext
from redwatch.probes.poisoning.common import PoisoningProbe, PoisonPlan, Predict, Split
from redwatch.probes.poisoning.label_flip import class_index, n_classes
from redwatch.targets.base import Target

DEFAULT_TRIGGER_FEATURES = 3
DEFAULT_BEYOND = 0.5


class BackdoorProbe(PoisoningProbe):
    """A corner patch (images) or a few out-of-range features (tables) as the trigger."""

    name: ClassVar[str] = "poisoning.backdoor"
    description: ClassVar[str] = (
        "Backdoor poisoning (BadNets): attack success and clean accuracy per poisoning rate"
    )
    references: ClassVar[tuple[str, ...]] = ("AML.T0020", "AML.T0018", "OWASP-ML02")

    def plan(self, target: Target, ctx: ProbeContext, split: Split) -> PoisonPlan:
        """The trigger and the target class from params (all read before any training)."""
        k = n_classes(target, split)
        chosen = ctx.params.get("target_class")
        dest = least_common(split.y_train, k) if chosen is None else class_index(target, chosen, k)
        patch = ctx.params.get("patch")
        features = int(ctx.params.get("trigger_features", DEFAULT_TRIGGER_FEATURES))
        beyond = float(ctx.params.get("trigger_beyond", DEFAULT_BEYOND))
        shape = image_shape(target, split.x_train.shape[1])
        if shape is not None:
            size = default_patch(shape) if patch is None else int(patch)
            trigger = image_trigger(shape, size, pixel_max(target, split.x_train))
            what = f"a {size}x{size} corner patch -> class {dest}"
        else:
            n = min(features, split.x_train.shape[1])
            trigger = tabular_trigger(split.x_train, n, ctx.rng, beyond=beyond)
            what = f"trigger {trigger.describe(_names(target))} -> class {dest}"
        return PoisonPlan(
            f"backdoor, {what}",
            lambda rate, rng: _poisoned(split, rate, trigger, dest, rng),
            success=lambda predict: _success(predict, split, trigger, dest),
            details={"target_class": dest, "trigger_columns": trigger.columns.tolist()},
            success_text=(
                f"the trigger sends {{success}} of other classes' test rows to class {dest} "
                "(clean model: {clean})"
            ),
        )


def _poisoned(
    split: Split, rate: float, trigger: Trigger, dest: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(poisoned training rows, their labels, poisoned row indices)."""
    poisoned = backdoor(split.x_train, split.y_train, rate, trigger, dest, rng)
    return poisoned.x, poisoned.y, poisoned.rows


def _success(predict: Predict, split: Split, trigger: Trigger, dest: int) -> float | None:
    """Attack success on the clean test rows of other classes, triggered."""
    rows = split.y_test != dest
    if not rows.any():
        return None
    return attack_success(predict(stamp(split.x_test[rows], trigger)), split.y_test[rows], dest)


def least_common(y: np.ndarray, k: int) -> int:
    """The rarest class of the training part (the lowest index on ties): the default target,
    so that most test rows can show the trigger at work."""
    counts = np.bincount(y, minlength=k)
    present = np.flatnonzero(counts > 0)
    return int(present[np.argmin(counts[present])])


def image_shape(target: Target, n_columns: int) -> tuple[int, ...] | None:
    """The target's image shape (input spec, else a torch target's input_shape), when it
    matches the rows' width."""
    spec = target.capabilities.input_spec
    shape = spec.image_shape if spec is not None else None
    shape = shape or getattr(target, "input_shape", None)
    if shape is None:
        return None
    if int(np.prod(shape)) != n_columns:
        raise ProbeError(f"image shape {tuple(shape)} does not match rows of {n_columns} values")
    return tuple(int(s) for s in shape)


def default_patch(shape: tuple[int, ...]) -> int:
    """An eighth of the smaller side, at least 2 pixels (3x3 on 28x28, 2x2 on 8x8)."""
    return max(2, min(shape[-2:]) // 8)


def pixel_max(target: Target, x: np.ndarray) -> float:
    """Maximum intensity: the input spec's upper bound, else the largest value seen."""
    spec = target.capabilities.input_spec
    if spec is not None and len(spec.upper):
        return float(np.max(spec.upper))
    return float(np.max(x))


def _names(target: Target) -> tuple[str, ...] | None:
    """Feature names for the trigger's description."""
    spec = target.capabilities.input_spec
    return spec.feature_names if spec is not None else target.feature_names
