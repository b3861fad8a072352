"""`privacy.membership`: can an attacker with the model's scores tell which rows it was
trained on? Shadow models of the target's recipe calibrate the threshold attack, LiRA
(offline and online) and RMIA; the audit reports AUC and TPR at 0.1 % / 1 % FPR with
confidence intervals, and what rounding the scores would leave."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Finding
from redwatch.privacy.shadow import ShadowSet, logit_confidence, train_shadows
from redwatch.privacy.shadow import true_class_confidence as true_conf
from redwatch.privacy.suite import rounded, score_all
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.privacy.design import AuditDesign, build_design
from redwatch.probes.privacy.report import LOW_FPR, best, judge, summaries
from redwatch.recipe import TrainRecipe, recipe_for
from redwatch.targets.base import Target

DEFAULT_SHADOWS = 8
ROUND_DECIMALS = 1
REFERENCES = ("AML.T0024.000", "OWASP-ML04", "NIST-MEASURE-2.10")


class MembershipProbe(Probe):
    """Score-based membership inference against the target (params `members`) or a
    replica of its recipe; params `shadows` (default 8), `max_rows`, `train_recipe`."""

    name: ClassVar[str] = "privacy.membership"
    category: ClassVar[Category] = Category.PRIVACY
    requires: ClassVar[frozenset[str]] = frozenset({"labels", "scores", "trainable"})
    references: ClassVar[tuple[str, ...]] = REFERENCES
    cost: ClassVar[int] = 3
    description: ClassVar[str] = (
        "Membership inference with shadow models: threshold, LiRA offline/online, RMIA"
    )
    needs_labels: ClassVar[bool] = True

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Train the attacked model (replica mode) and the shadows, score, judge."""
        design = build_design(target, ctx)
        recipe = recipe_for(target, ctx.params)
        n_shadows = int(ctx.params.get("shadows", DEFAULT_SHADOWS))
        if n_shadows < 2:
            raise ProbeError(f"shadows must be at least 2, got {n_shadows}")
        ctx.progress(0.02, f"membership: {design.describe()}")
        proba = attacked_outputs(target, recipe, design, ctx)
        shadows = train_shadows(
            recipe,
            design.x,
            design.y,
            n_models=n_shadows,
            seed=ctx.seed + 1,
            should_stop=ctx.out_of_time,
            progress=lambda f, m: ctx.progress(0.1 + 0.8 * f, m),
        )
        ctx.progress(0.92, f"membership: scoring with {shadows.n_models} shadow models")
        conf, logit = true_conf(proba, design.y), logit_confidence(proba, design.y)
        suite = score_all(conf, logit, shadows, design.eval_rows, design.z_rows)
        results = summaries(suite.scores, design.member, ctx.seed)
        extra: dict[str, Any] = {
            "recipe": recipe.describe(),
            "shadows": shadows.n_models,
            "shadows_asked": n_shadows,
            "rmia_offline_a": suite.rmia_a,
            "rounded_output": rounded_effect(conf, shadows, design, ctx.seed),
        }
        return judge(self, target, ctx, design, results, extra)


def attacked_outputs(
    target: Target, recipe: TrainRecipe, design: AuditDesign, ctx: ProbeContext
) -> np.ndarray:
    """Probabilities of the attacked model on every population row: the real target
    (metered queries) in target mode, else a replica trained on the known members."""
    if design.mode == "target":
        return np.asarray(target.predict_proba(design.x), dtype=np.float64)
    rows = design.member_rows
    replica = recipe.fit(design.x[rows], design.y[rows], seed=ctx.seed)
    return recipe.predict_proba(replica, design.x)


def rounded_effect(
    conf: np.ndarray, shadows: ShadowSet, design: AuditDesign, seed: int
) -> dict[str, Any]:
    """The best attack's figures when scores are rounded to one decimal."""
    r_conf, r_logit, r_shadows = rounded(conf, shadows, ROUND_DECIMALS)
    suite = score_all(r_conf, r_logit, r_shadows, design.eval_rows, design.z_rows)
    results = summaries(suite.scores, design.member, seed)
    name = best(results)
    top = results[name]
    return {
        "decimals": ROUND_DECIMALS,
        "best_attack": name,
        "auc": top.auc,
        "tpr_at_0.1%_fpr": top.tpr_at(LOW_FPR).tpr,
    }
