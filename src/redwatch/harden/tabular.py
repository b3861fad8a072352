"""Adversarial data augmentation for scikit-learn API models (incl. XGBoost / LightGBM
wrappers and pipelines): craft feasible adversarial rows on the training data with the attack
that fits the model, label them with their TRUE label, refit a clone with the same
hyper-parameters on train + adversarial rows, and repeat for a few rounds.

Attack per model: tree ensembles → leaf walk over the ensemble structure; models with input
gradients (logistic regression) → PGD; anything else → HopSkipJump on labels. Every crafted
row goes through `InputSpec.project` and is kept only when feasible and still misclassified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redwatch.attacks.base import AttackResult
from redwatch.attacks.hopskipjump import hopskipjump
from redwatch.attacks.pgd import pgd
from redwatch.attacks.trees.ensemble import TreeEnsemble, extract
from redwatch.attacks.trees.leafwalk import leaf_walk
from redwatch.exceptions import UsageError
from redwatch.targets.base import Target
from redwatch.targets.detect import from_object
from redwatch.targets.spec import InputSpec


@dataclass(frozen=True)
class AugmentConfig:
    """eps is L∞ as a fraction of each feature's range; `max_rows` training rows are attacked
    per round (seeded sample); `hsj_queries` caps HopSkipJump per row."""

    eps: float = 0.05
    rounds: int = 3
    max_rows: int = 1000
    hsj_queries: int = 400
    seed: int = 0

    def validate(self) -> None:
        """UsageError naming the first bad setting."""
        if not 0 < self.eps <= 1:
            raise UsageError(f"epsilon must be in (0, 1] (a fraction of the range), got {self.eps}")
        if min(self.rounds, self.max_rows, self.hsj_queries) < 1:
            raise UsageError("rounds, rows and queries per row must be at least 1")


@dataclass
class AugmentReport:
    """What each round did: rows attacked, adversarial rows kept, the attack used."""

    attack: str = ""
    rounds: list[dict[str, int]] = field(default_factory=list)

    @property
    def added(self) -> int:
        """Adversarial rows added to the training set over all rounds."""
        return sum(r["kept"] for r in self.rounds)


def check_refittable(model: Any) -> None:
    """UsageError unless the model can be cloned and refitted (scikit-learn API)."""
    if not hasattr(model, "get_params") or not hasattr(model, "fit"):
        raise UsageError(
            f"augmentation needs a scikit-learn API model (fit/get_params); "
            f"{type(model).__name__} is not one (save XGBoost/LightGBM models as "
            "XGBClassifier/LGBMClassifier with joblib)"
        )


def augment_and_refit(
    model: Any, x: np.ndarray, y: np.ndarray, spec: InputSpec, cfg: AugmentConfig
) -> tuple[Any, AugmentReport]:
    """The refitted model and a report. x in feature units, y class indices 0..K-1."""
    cfg.validate()
    check_refittable(model)
    rng = np.random.default_rng(cfg.seed)
    report = AugmentReport()
    extra_x, extra_y = [np.empty((0, x.shape[1]))], [np.empty(0, dtype=np.int64)]
    current = model
    for _ in range(cfg.rounds):
        rows = np.sort(rng.permutation(len(x))[: cfg.max_rows])
        x_adv, fooled, report.attack = craft(current, x[rows], y[rows], spec, cfg, rng)
        report.rounds.append({"attacked": len(rows), "kept": int(fooled.sum())})
        if not fooled.any():
            break
        extra_x.append(x_adv[fooled])
        extra_y.append(y[rows][fooled])
        current = refit(model, np.vstack([x, *extra_x]), np.concatenate([y, *extra_y]))
    return current, report


def refit(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """A clone of `model` (same hyper-parameters) fitted on x and class indices y, with the
    model's own label values and feature names."""
    from sklearn.base import clone

    classes = getattr(model, "classes_", None)
    labels = y if classes is None else np.asarray(classes)[y]
    names = getattr(model, "feature_names_in_", None)
    data: Any = x
    if names is not None:
        import pandas as pd

        data = pd.DataFrame(x, columns=list(names))
    return clone(model).fit(data, labels)


def craft(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    spec: InputSpec,
    cfg: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, str]:
    """(feasible x_adv, fooled mask, attack name) for the rows the model gets right."""
    target = from_object(model, name="harden")
    target.set_input_spec(spec)
    x_adv = x.copy()
    fooled = np.zeros(len(x), dtype=bool)
    right = np.flatnonzero(target.predict(x) == y)
    if len(right) == 0:
        return x_adv, fooled, "none"
    result, name = _attack(model, target, x[right], y[right], spec, cfg, rng)
    within = np.abs((result.x_adv - x[right]) / spec.scale).max(axis=1) <= cfg.eps + 1e-9
    candidate = spec.project(result.x_adv, x[right])
    ok = result.success & within & spec.feasible(candidate)
    ok &= target.predict(candidate) != y[right]
    x_adv[right] = candidate
    fooled[right] = ok
    return x_adv, fooled, name


def _attack(
    model: Any,
    target: Target,
    x: np.ndarray,
    y: np.ndarray,
    spec: InputSpec,
    cfg: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[AttackResult, str]:
    """Run the attack that fits the model; x_adv comes back in feature units."""
    ensemble = _tree_ensemble(model)
    if ensemble is not None:
        return leaf_walk(ensemble, x, y, spec, eps=cfg.eps, norm="inf", rng=rng), "leaf walk"
    u = (x - spec.lower) / spec.scale
    mask = spec.mutable_mask

    def to_x(v: np.ndarray) -> np.ndarray:
        return spec.lower + v * spec.scale

    if target.capabilities.gradients:
        result = pgd(
            lambda v, t: target.loss_gradient(to_x(v), t) * spec.scale,
            lambda v: target.predict(to_x(v)),
            u,
            y,
            eps=cfg.eps,
            steps=20,
            mask=mask,
            rng=rng,
        )
        name = "pgd"
    else:
        result = hopskipjump(
            lambda v: target.predict(to_x(v)),
            u,
            y,
            norm="inf",
            eps=cfg.eps,
            max_queries=cfg.hsj_queries,
            mask=mask,
            rng=rng,
        )
        name = "hopskipjump"
    result.x_adv = to_x(result.x_adv)
    return result, name


def _tree_ensemble(model: Any) -> TreeEnsemble | None:
    """The model's TreeEnsemble view, or None when it is not a tree ensemble we can read."""
    try:
        return extract(model)
    except Exception:  # an ensemble layout the extractor does not know: use another attack
        return None
