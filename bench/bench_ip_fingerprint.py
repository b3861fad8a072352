"""IP fingerprints: does `redwatch ip fingerprint / compare` call models derived from the
owner's "derived" and independently trained models not?

For each demo owner (credit XGBoost, digits logistic regression), a fingerprint of 100
points is built with 10 same-recipe references (5 choose the points, 5 calibrate). Suspects:
- derived: an exact copy; fine-tuned on 10% of held-out data (XGBoost: 10 more trees;
  logistic regression: 5 warm-started iterations); pruned (XGBoost: first 70% of trees;
  logistic regression: 30% smallest weights zeroed); a same-recipe model distilled on the
  owner's labels of 25% of the training rows; surrogates of other model classes extracted
  with 4,000 Knockoff-style queries (held-out rows and mixtures of two rows) and with
  Jacobian augmentation (Papernot et al. 2017) from 100 held-out seeds;
- independent (>= 10): the same demo recipe on other splits and seeds (6), and random
  forest, extra trees, a small MLP and a gradient-boosting / linear model of another library
  trained on the true labels of other splits.
TPR = share of derived suspects called "derived"; FPR = share of independent ones. Every
model here exposes probabilities, so the decision uses both the label test and the score test
(each at alpha / 2); `tpr_labels` / `fpr_labels` are the label test's verdicts alone.

    python bench/bench_ip_fingerprint.py    # -> bench/results/ip_fingerprint.json
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from _common import machine_info, print_table, write_json
from redwatch.attacks.extraction import jacobian_augmentation
from redwatch.demo.models import DemoModel, train_credit_gbm, train_digits_logreg
from redwatch.ip.fingerprint import (
    FingerprintSettings,
    build_ip_fingerprint,
    compare_ip_fingerprint,
)
from redwatch.ip.fingerprint_calibrate import DERIVED, fine_tune, mixture_queries
from redwatch.ip.recipe import fit_like, predict_labels
from redwatch.targets.detect import from_object

SETTINGS = FingerprintSettings(points=100, references=10, seed=0)
Trainer = Callable[[int], DemoModel]


def others(kind: str) -> list[tuple[str, Any]]:
    """Model classes other than the owner's, for surrogates and independent models."""
    from lightgbm import LGBMClassifier

    mlp = MLPClassifier((64,), max_iter=300, random_state=0)
    common = [
        ("random-forest", RandomForestClassifier(100, random_state=0, n_jobs=1)),
        ("extra-trees", ExtraTreesClassifier(100, random_state=0, n_jobs=1)),
        ("mlp", mlp),
    ]
    fourth = LGBMClassifier(n_estimators=100, random_state=0, verbose=-1, n_jobs=1)
    if kind == "credit":
        return [*common, ("lightgbm", fourth)]
    return [
        *common,
        ("lightgbm", fourth),
        ("logreg-C0.1", LogisticRegression(C=0.1, max_iter=2000)),
    ]


def derived_suspects(demo: DemoModel, kind: str) -> list[tuple[str, Any]]:
    """Models made from the owner's: copy, fine-tune, prune, distil, extract."""
    owner = demo.model
    rng = np.random.default_rng(11)
    n_tune = len(demo.x_test) // 10
    out: list[tuple[str, Any]] = [("copy", copy.deepcopy(owner))]
    out.append(("fine-tuned", fine_tune(owner, demo.x_test[:n_tune], demo.y_test[:n_tune], seed=1)))
    out.append(("pruned", pruned(owner, kind)))
    few = demo.x_train[rng.permutation(len(demo.x_train))[: len(demo.x_train) // 4]]
    out.append(("distilled-25%", fit_like(owner, few, predict_labels(owner, few), seed=21)))
    knock = mixture_queries(demo.x_test, 4000, rng)
    jac = jacobian_augmentation(
        lambda rows: predict_labels(owner, rows), demo.x_test[:100], rounds=5, rng=rng
    )
    for name, model in others(kind)[:3]:
        out.append((f"knockoff-{name}", fit(model, knock, predict_labels(owner, knock))))
        out.append((f"jacobian-{name}", fit(model, jac.queries, jac.labels)))
    return out


def independent_suspects(train: Trainer, kind: str) -> list[tuple[str, Any]]:
    """Models that never saw the owner: the demo recipe on other splits, other classes."""
    out: list[tuple[str, Any]] = [(f"demo-seed-{s}", train(s).model) for s in range(1, 7)]
    for i, (name, model) in enumerate(others(kind), start=7):
        other = train(i)
        out.append((f"{name}-seed-{i}", fit(model, other.x_train, other.y_train)))
    return out


def pruned(owner: Any, kind: str) -> Any:
    """XGBoost: the first 70% of the trees; logistic regression: 30% smallest weights zeroed."""
    if kind == "credit":
        booster = owner.get_booster()
        return booster[: int(0.7 * booster.num_boosted_rounds())]
    model = copy.deepcopy(owner)
    small = np.abs(model.coef_) < np.quantile(np.abs(model.coef_), 0.3)
    model.coef_[small] = 0.0
    return model


def fit(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """A fresh fit of an unfitted template."""
    from sklearn.base import clone

    return clone(model).fit(x, y)


def run_case(kind: str, train: Trainer) -> dict[str, Any]:
    """Fingerprint the owner, compare every suspect; TPR / FPR of the decision."""
    demo = train(0)
    start = time.perf_counter()
    fp = build_ip_fingerprint(from_object(demo.model), demo.x_train, demo.y_train, SETTINGS)
    build_s = time.perf_counter() - start
    rows = []
    for group, suspects in (
        ("derived", derived_suspects(demo, kind)),
        ("independent", independent_suspects(train, kind)),
    ):
        for name, model in suspects:
            result = compare_ip_fingerprint(from_object(model, name=name), fp)
            accuracy = float(np.mean(from_object(model).predict(demo.x_test) == demo.y_test))
            score = result.scores
            rows.append(
                {
                    "model": kind,
                    "group": group,
                    "suspect": name,
                    "accuracy": accuracy,
                    **result.to_dict(),
                    "score_rate": None if score is None else score.rate,
                    "score_p_value": None if score is None else score.p_value,
                }
            )
    derived = [r for r in rows if r["group"] == "derived"]
    independent = [r for r in rows if r["group"] == "independent"]
    return {
        "owner_accuracy": demo.accuracy(),
        "build_seconds": build_s,
        "calibration": fp.calibration.to_dict(),
        "score_calibration": None if fp.scores is None else fp.scores.calibration.to_dict(),
        "tpr": _share(derived, "decision"),
        "fpr": _share(independent, "decision"),
        "tpr_labels": _share(derived, "label_decision"),
        "fpr_labels": _share(independent, "label_decision"),
        "independent_max_rate": max(r["matching_rate"] for r in independent),
        "independent_max_score_rate": max(r["score_rate"] or 0.0 for r in independent),
        "rows": rows,
    }


def _share(rows: list[dict[str, Any]], field: str) -> float:
    """Share of rows whose `field` says derived."""
    return float(np.mean([r[field] == DERIVED for r in rows]))


def main() -> None:
    """Run both owners and write bench/results/ip_fingerprint.json."""
    cases = {
        "credit-xgboost": ("credit", train_credit_gbm),
        "digits-logreg": ("digits", train_digits_logreg),
    }
    results = {}
    with threadpool_limits(1):
        for name, (kind, train) in cases.items():
            results[name] = run_case(kind, train)
    table = [r for res in results.values() for r in res["rows"]]
    columns = ["model", "group", "suspect", "accuracy", "matching_rate", "p_value"]
    print_table(table, [*columns, "score_rate", "score_p_value", "label_decision", "decision"])
    summary = [
        {
            "owner": k,
            "tpr_labels": v["tpr_labels"],
            "fpr_labels": v["fpr_labels"],
            "tpr": v["tpr"],
            "fpr": v["fpr"],
            "threshold": v["calibration"]["threshold"],
            "score_threshold": (v["score_calibration"] or {}).get("threshold"),
            "independent_max_score": v["independent_max_score_rate"],
        }
        for k, v in results.items()
    ]
    print_table(summary, list(summary[0]))
    payload = {
        "machine": machine_info(("numpy", "scikit-learn", "xgboost", "lightgbm")),
        "settings": SETTINGS.to_dict(),
        "results": results,
    }
    print(f"written to {write_json('ip_fingerprint', payload)}")


if __name__ == "__main__":
    main()
