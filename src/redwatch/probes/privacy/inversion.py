"""`privacy.model_inversion`: can an attacker with gradients reconstruct what each class
looks like? Class-representative reconstruction (Fredrikson et al. 2015) for up to ten
classes, then two checks of recognisability: the target's confidence in the class, and
whether the reconstruction correlates best with its own class's mean real image."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from scipy.stats import binom

from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.privacy.inversion import (
    Inversion,
    InversionSettings,
    class_means,
    correlations,
    invert,
    own_rank,
)
from redwatch.probes.base import ProbeContext
from redwatch.probes.evasion.uap import ImageProbe
from redwatch.targets.base import Target
from redwatch.targets.spec import InputSpec

MAX_CLASSES = 10
MIN_STEPS = 10
SIGNIFICANCE = 0.05
REFERENCES = ("AML.T0024.001", "OWASP-ML03", "NIST-MEASURE-2.10")


class ModelInversionProbe(ImageProbe):
    """Reconstruct a representative image per class by gradient descent; params `classes`
    (a count or a list of class indices, at most 10), `steps` (150), `restarts` (3),
    `tv_weight` (0.5), `step_size` (0.05), `start` (0.0: the grey level to start from)."""

    name: ClassVar[str] = "privacy.model_inversion"
    category: ClassVar[Category] = Category.PRIVACY
    requires: ClassVar[frozenset[str]] = frozenset({"gradients", "scores"})
    references: ClassVar[tuple[str, ...]] = REFERENCES
    cost: ClassVar[int] = 2
    description: ClassVar[str] = (
        "Model inversion: class-representative images reconstructed from gradients"
    )
    needs_labels: ClassVar[bool] = True

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Invert each chosen class, score the reconstructions, judge."""
        spec = target.capabilities.input_spec
        if spec is None or spec.image_shape is None:
            raise ProbeError("model inversion needs image inputs (declare image_shape)")
        y = np.asarray(ctx.y, dtype=np.int64)
        present = np.unique(y)
        classes = chosen_classes(ctx, present)
        settings = _settings(ctx, len(classes))
        ctx.progress(0.05, f"model inversion: {len(classes)} classes x {settings.restarts}")
        inv = invert(
            _unit_loss_grad(target, spec),
            classes,
            spec.image_shape,
            settings,
            ctx.rng,
            ctx.out_of_time,
        )
        proba = target.predict_proba(_from_unit(spec, inv.images))
        real = np.clip((np.asarray(ctx.x, dtype=np.float64) - spec.lower) / spec.scale, 0, 1)
        means = class_means(real, y, present)
        corr = correlations(inv.images, means, real.mean(axis=0))
        table = per_class(target, inv, proba, corr, present)
        metrics = _metrics(table, len(present), settings, inv)
        ctx.metrics.update(metrics)
        # not recognisable: still an (info) finding, so the report shows the reconstructions
        return [self._finding(target, spec, inv, means, classes, present, metrics)]

    def _finding(
        self,
        target: Target,
        spec: InputSpec,
        inv: Inversion,
        means: np.ndarray,
        classes: np.ndarray,
        present: np.ndarray,
        metrics: dict[str, Any],
    ) -> Finding:
        """The finding with the reconstructions (and the real class means) as images."""
        n, k = metrics["classes_inverted"], metrics["classes_matched"]
        shape = _image_shape(spec.image_shape or ())
        own = np.searchsorted(present, classes)
        if recognisable(metrics):
            severity = Severity.MEDIUM if metrics["match_rate"] >= 0.8 else Severity.LOW
            title = (
                f"Model inversion reconstructs recognisable class images: {k} of {n} match "
                f"their own class best"
            )
        else:
            severity = Severity.INFO
            title = (
                f"Model inversion reconstructions are not recognisable: {k} of {n} match "
                f"their own class best (evidence only)"
            )
        return Finding(
            probe=self.name,
            category=self.category,
            severity=severity,
            title=title,
            description=(
                f"Gradient descent from a flat image, {metrics['steps_run']} steps x "
                f"{metrics['restarts']} restarts per class, gives reconstructions that "
                f"correlate best with their own class's mean real image for {k} of {n} "
                f"classes (chance {1 / metrics['classes_in_data']:.0%} each, binomial p = "
                f"{metrics['p_value']:.2g}); the model's mean confidence in the intended class "
                f"is {metrics['mean_confidence']:.1%}. This matters most where a class is a "
                "person or a sensitive group."
            ),
            metrics=metrics,
            evidence=[
                Evidence(
                    "image",
                    "model-inversion reconstruction per class (row i: class "
                    "classes[i]); class_means: the mean real image of the same classes",
                    data={"classes": [int(c) for c in classes], "per_class": metrics["per_class"]},
                    arrays={
                        "images": inv.images.reshape(len(classes), *shape),
                        "class_means": means[own].reshape(len(classes), *shape),
                    },
                )
            ],
            mitigations=mitigations(),
            references=self.references,
            target=target.name,
        )


def chosen_classes(ctx: ProbeContext, present: np.ndarray) -> np.ndarray:
    """Params `classes`: a list of class indices, or how many (seeded choice among the
    classes in the data); default all, at most 10."""
    asked = ctx.params.get("classes")
    if isinstance(asked, list | tuple):
        chosen = np.unique(np.asarray(asked, dtype=np.int64))
        missing = sorted(set(chosen.tolist()) - set(present.tolist()))
        if missing:
            raise ProbeError(f"classes {missing} have no image among the campaign rows")
    else:
        count = MAX_CLASSES if asked is None else int(asked)
        if count < 1:
            raise ProbeError(f"classes must be at least 1, got {count}")
        chosen = np.sort(ctx.rng.permutation(present)[: min(count, MAX_CLASSES)])
    if len(chosen) > MAX_CLASSES or len(present) < 2:
        raise ProbeError(f"model inversion takes 1 to {MAX_CLASSES} classes, of at least 2")
    return chosen


def _settings(ctx: ProbeContext, n_classes: int) -> InversionSettings:
    """Optimiser settings from params, steps cut to fit the query budget."""
    p = ctx.params
    base = InversionSettings()
    settings = InversionSettings(
        steps=int(p.get("steps", base.steps)),
        restarts=int(p.get("restarts", base.restarts)),
        step_size=float(p.get("step_size", base.step_size)),
        tv_weight=float(p.get("tv_weight", base.tv_weight)),
        start=float(p.get("start", base.start)),
    ).check()
    if ctx.budget.queries is None:
        return settings
    rows = n_classes * settings.restarts
    steps = min(settings.steps, (ctx.budget.queries - n_classes) // rows)
    if steps < MIN_STEPS:
        raise ProbeError(f"model inversion needs {MIN_STEPS * rows + n_classes} queries")
    return InversionSettings(
        steps, settings.restarts, settings.step_size, settings.tv_weight, settings.start
    )


def _from_unit(spec: InputSpec, u: np.ndarray) -> np.ndarray:
    """Unit-box images in the model's feature units."""
    return np.asarray(spec.lower + u * spec.scale)


def _unit_loss_grad(target: Target, spec: InputSpec) -> Any:
    """Cross-entropy and its gradient w.r.t. unit-box images (chain rule through scale)."""

    def loss_grad(u: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One metered gradient query per row."""
        values, grads = target.loss_value_and_gradient(_from_unit(spec, u), y)
        return values, grads * spec.scale

    return loss_grad


def _image_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(H, W) for one channel, else (C, H, W)."""
    return tuple(shape[-2:]) if len(shape) == 2 or shape[0] == 1 else tuple(shape)


def per_class(
    target: Target, inv: Inversion, proba: np.ndarray, corr: np.ndarray, present: np.ndarray
) -> list[dict[str, Any]]:
    """One row per inverted class: confidence, predicted class, correlation with its own
    class mean and the best other one, and the rank of its own class (1: most similar)."""
    own = np.searchsorted(present, inv.classes)
    ranks = own_rank(corr, own)
    rows = []
    for i, c in enumerate(inv.classes):
        others = np.delete(corr[i], own[i])
        rows.append(
            {
                "class": int(c),
                "label": _label(target, int(c)),
                "confidence": float(proba[i, c]),
                "predicted": int(proba[i].argmax()),
                "own_correlation": float(corr[i, own[i]]),
                "best_other_correlation": float(others.max()) if len(others) else 0.0,
                "rank": int(ranks[i]),
            }
        )
    return rows


def _label(target: Target, c: int) -> str:
    """The model's own name of class index c, when known."""
    classes = target.classes
    return str(classes[c]) if classes is not None and c < len(classes) else str(c)


def _metrics(
    table: list[dict[str, Any]], n_present: int, settings: InversionSettings, inv: Inversion
) -> dict[str, Any]:
    """Headline figures: share of classes matched, its binomial p-value against chance
    (1 / classes in the data), mean confidence and correlations, and the settings."""
    n = len(table)
    matched = sum(row["rank"] == 1 for row in table)
    return {
        "samples": n,
        "classes_inverted": n,
        "classes_in_data": n_present,
        "classes_matched": matched,
        "match_rate": matched / n,
        "p_value": float(binom.sf(matched - 1, n, 1.0 / n_present)),
        "mean_confidence": float(np.mean([r["confidence"] for r in table])),
        "predicted_as_intended": float(np.mean([r["predicted"] == r["class"] for r in table])),
        "mean_own_correlation": float(np.mean([r["own_correlation"] for r in table])),
        "steps": settings.steps,
        "steps_run": inv.steps_run,
        "restarts": settings.restarts,
        "tv_weight": settings.tv_weight,
        "start": settings.start,
        "per_class": table,
    }


def recognisable(metrics: dict[str, Any]) -> bool:
    """Most inverted classes match their own class mean best, beyond chance."""
    return bool(metrics["match_rate"] > 0.5 and metrics["p_value"] < SIGNIFICANCE)


def mitigations() -> list[Mitigation]:
    """Keep gradients and weights away from clients, coarsen scores, train privately."""
    return [
        Mitigation(
            "setting",
            "Do not expose gradients or model weights",
            "This reconstruction needs white-box access; serve the model behind an API and do "
            "not ship its weights to clients or partners who need only predictions.",
        ),
        Mitigation(
            "guard_rule",
            "Round the scores the API returns",
            "Black-box inversion estimates gradients from score differences; coarse scores "
            "starve it of signal.",
            {"stage": "output", "options": {"decimals": 1}},
        ),
        Mitigation(
            "retrain",
            "Train with differential privacy or stronger regularisation",
            "DP-SGD limits what the model memorises of individual images, so reconstructions "
            "drift towards generic shapes; re-run this probe to measure the effect.",
        ),
    ]
