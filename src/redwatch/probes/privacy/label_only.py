"""`privacy.membership_label_only`: membership inference from predicted labels alone
(Choquette-Choo et al. 2021): a training row keeps its label under more noise. The raw
robustness score, and the same score calibrated by shadow models that never saw the row
(params `shadows`, default 4; 0 skips), when the recipe can be retrained.

Real target (params `members`): every evaluated row costs 1 + levels x draws queries, so
the rows are cut to fit the query budget."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Finding
from redwatch.privacy.baselines import (
    DEFAULT_DRAWS,
    NOISE_LEVELS,
    calibrated,
    feature_scale,
    label_only_scores,
)
from redwatch.privacy.shadow import half_splits
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.privacy.design import AuditDesign, build_design
from redwatch.probes.privacy.membership import REFERENCES
from redwatch.probes.privacy.report import judge, summaries
from redwatch.recipe import TrainRecipe, recipe_for, trainable
from redwatch.targets.base import Target

DEFAULT_SHADOWS = 4
Predict = Callable[[np.ndarray], np.ndarray]


class LabelOnlyMembershipProbe(Probe):
    """Label-only membership inference against the target (params `members`) or a replica
    of its recipe; params `draws` (noisy copies per level, default 6), `shadows`."""

    name: ClassVar[str] = "privacy.membership_label_only"
    category: ClassVar[Category] = Category.PRIVACY
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = REFERENCES
    cost: ClassVar[int] = 3
    description: ClassVar[str] = "Label-only membership inference: label robustness under noise"
    needs_labels: ClassVar[bool] = True
    default: ClassVar[bool] = False  # 31 queries a row: runs when named (87 s on the MNIST demo)

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Score every evaluated row by label robustness, calibrate, judge."""
        recipe = _recipe(target, ctx)
        design = build_design(target, ctx)
        if design.mode == "replica" and recipe is None:
            raise ProbeError(_NEEDS)
        draws = int(ctx.params.get("draws", DEFAULT_DRAWS))
        per_row = 1 + len(NOISE_LEVELS) * draws
        rows = _rows_within_budget(design, ctx, per_row)
        predict = _attacked(target, recipe, design, ctx)
        ctx.progress(0.05, f"label-only membership: {len(rows)} rows x {per_row} queries")
        score = _robustness(predict, design, rows, ctx, draws)
        scores = {"label_only": score}
        n_shadows = int(ctx.params.get("shadows", DEFAULT_SHADOWS)) if recipe else 0
        if recipe is not None and n_shadows >= 2 and not ctx.out_of_time():
            ref = _shadow_robustness(recipe, design, rows, ctx, draws, n_shadows)
            scores["label_only_calibrated"] = calibrated(score, ref)
        member = design.member[rows]
        if member.all() or not member.any():
            raise ProbeError("the query budget left no members or no non-members to score")
        results = summaries(scores, member, ctx.seed)
        extra: dict[str, Any] = {
            "recipe": None if recipe is None else recipe.describe(),
            "scored_rows": len(rows),
            "queries_per_row": per_row,
            "shadows": n_shadows if "label_only_calibrated" in scores else 0,
        }
        return judge(self, target, ctx, design, results, extra)


_NEEDS = (
    "label-only membership needs params members (a CSV of the target's training rows) or a "
    "model redwatch can retrain (or params train_recipe)"
)


def _recipe(target: Target, ctx: ProbeContext) -> TrainRecipe | None:
    """The training recipe when the target can be retrained (or one is given), else None."""
    if ctx.params.get("train_recipe") or trainable(target):
        return recipe_for(target, ctx.params)
    return None


def _rows_within_budget(design: AuditDesign, ctx: ProbeContext, per_row: int) -> np.ndarray:
    """Evaluated rows to score: all of them, or a seeded subset that fits the query budget
    when the real target is queried."""
    rows = design.eval_rows
    if design.mode != "target" or ctx.budget.queries is None:
        return rows
    allowed = ctx.budget.queries // per_row
    if allowed < 8:
        raise ProbeError(f"label-only membership needs {8 * per_row} queries, budget allows fewer")
    return np.sort(ctx.rng.permutation(rows)[:allowed]) if allowed < len(rows) else rows


def _predictor(recipe: TrainRecipe, model: Any) -> Predict:
    """Labels of one of the probe's own models (no query metering)."""
    return lambda x: recipe.predict(model, x)


def _attacked(
    target: Target, recipe: TrainRecipe | None, design: AuditDesign, ctx: ProbeContext
) -> Predict:
    """The labels of the attacked model: the real target (metered) or the replica."""
    if design.mode == "target":
        return lambda x: np.asarray(target.predict(x), dtype=np.int64)
    assert recipe is not None
    members = design.member_rows
    return _predictor(recipe, recipe.fit(design.x[members], design.y[members], seed=ctx.seed))


def _bounds(design: AuditDesign) -> tuple[np.ndarray, np.ndarray]:
    """Clip noisy rows to the population's range (keeps images in their pixel range)."""
    return (design.x.min(axis=0), design.x.max(axis=0))


def _robustness(
    predict: Predict, design: AuditDesign, rows: np.ndarray, ctx: ProbeContext, draws: int
) -> np.ndarray:
    """Label robustness of each scored row under the seeded noise."""
    return label_only_scores(
        predict,
        design.x[rows],
        design.y[rows],
        scale=feature_scale(design.x),
        rng=np.random.default_rng(ctx.seed + 7),
        draws=draws,
        bounds=_bounds(design),
    )


def _shadow_robustness(
    recipe: TrainRecipe,
    design: AuditDesign,
    rows: np.ndarray,
    ctx: ProbeContext,
    draws: int,
    n_shadows: int,
) -> np.ndarray:
    """(shadows, rows) robustness of shadow models on the scored rows, NaN where a shadow
    trained on the row; stops early (at least two models) when time runs out."""
    membership = half_splits(n_shadows, len(design.x), np.random.default_rng(ctx.seed + 1))
    out = []
    for m in range(n_shadows):
        if m >= 2 and ctx.out_of_time():
            break
        train = np.flatnonzero(membership[m])
        model = recipe.fit(design.x[train], design.y[train], seed=ctx.seed + 1 + m)
        score = _robustness(_predictor(recipe, model), design, rows, ctx, draws)
        out.append(np.where(membership[m, rows], np.nan, score))
        ctx.progress(0.3 + 0.6 * (m + 1) / n_shadows, f"label-only shadow {m + 1} scored")
    return np.vstack(out)
