"""Label-flip poisoning: how much does clean accuracy fall when k % of the training labels
are wrong? Random flips (another class, uniformly) by default; with `source` and `target`,
rows of one class relabelled as another, and the share of that class the model then gets
wrong the attacker's way."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from redwatch.attacks.poisoning import flip_random, flip_targeted
from redwatch.exceptions import ProbeError
from redwatch.probes.base import ProbeContext
from redwatch.probes.poisoning.common import PoisoningProbe, PoisonPlan, Predict, Split
from redwatch.targets.base import Target


class LabelFlipProbe(PoisoningProbe):
    """Flip k % of the training labels, retrain, and measure the clean accuracy lost."""

    name: ClassVar[str] = "poisoning.label_flip"
    description: ClassVar[str] = (
        "Label-flip poisoning: clean accuracy of the retrained model per share of flipped labels"
    )

    def plan(self, target: Target, ctx: ProbeContext, split: Split) -> PoisonPlan:
        """Random flips, or targeted ones when params give `source` and `target` classes."""
        k = n_classes(target, split)
        source, dest = ctx.params.get("source"), ctx.params.get("target")
        if (source is None) != (dest is None):
            raise ProbeError("targeted label flips need both source and target classes")
        y = split.y_train
        if source is None:
            return PoisonPlan(
                "random label flips",
                lambda rate, rng: _with_x(split, flip_random(y, rate, k, rng)),
            )
        s, t = class_index(target, source, k), class_index(target, dest, k)
        if s == t:
            raise ProbeError(f"source and target must be different classes, both are {s}")
        return PoisonPlan(
            f"targeted label flips {source} -> {dest}",
            lambda rate, rng: _with_x(split, flip_targeted(y, rate, k, s, t, rng)),
            success=lambda predict: _flip_success(predict, split, s, t),
            details={"source_class": s, "target_class": t},
            success_text=(
                f"{{success}} of class {s}'s test rows are predicted as class {t} "
                "(clean model: {clean})"
            ),
        )


def _with_x(split: Split, flipped: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training rows, flipped labels, flipped row indices)."""
    return split.x_train, flipped.y, flipped.rows


def _flip_success(predict: Predict, split: Split, source: int, target: int) -> float | None:
    """Share of the source class's clean test rows the model assigns to the target class."""
    rows = split.y_test == source
    if not rows.any():
        return None
    return float(np.mean(predict(split.x_test[rows]) == target))


def n_classes(target: Target, split: Split) -> int:
    """The target's class count (at least the number of classes in the data)."""
    seen = int(max(split.y_train.max(), split.y_test.max())) + 1
    return max(int(target.capabilities.n_classes or 0), seen, 2)


def class_index(target: Target, value: Any, k: int) -> int:
    """A class named by one of the model's labels (e.g. "Yes"), or by its index 0..k-1."""
    classes = target.classes
    if classes is not None:
        names = [str(c) for c in np.asarray(classes).tolist()]
        if str(value) in names:
            return names.index(str(value))
    try:
        index = int(value)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < k or (isinstance(value, float) and not value.is_integer()):
        raise ProbeError(f"unknown class {value!r}: give a label of the model or 0..{k - 1}")
    return index
