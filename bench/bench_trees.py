"""Tree-ensemble evasion: redwatch (exact MILP, leaf walk) vs ART 1.20.1.

(a) breast-cancer data scaled to [0, 1]: a DecisionTreeClassifier (ART `DecisionTreeAttack`
    vs our exact MILP and leaf walk) and a small RandomForest (ours only: ART's tree attack
    takes single trees); success rate, median / mean L∞ and L2 perturbation, wall time.
(b) the demo credit XGBoost: ART `ZooAttack` through ART's XGBoostClassifier vs our leaf walk
    and MILP; success rate (any size and within ε=0.05 of each feature's range), median
    perturbation, wall time. Tree outputs are piecewise constant: ZOO's finite differences
    see zero gradients almost everywhere.

Every success is re-checked on the real model; perturbations are measured in the unit box
(fraction of each feature's range). Same samples for every attack.

    python bench/bench_trees.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from _common import machine_info, print_table, write_json
from redwatch.attacks.trees.ensemble import extract
from redwatch.attacks.trees.leafwalk import leaf_walk
from redwatch.attacks.trees.milp import milp_attack
from redwatch.targets.spec import InputSpec

SEED = 0
EPS = 0.05


def _sizes(model: Any, x: np.ndarray, x_adv: np.ndarray, y: np.ndarray, scale: np.ndarray):
    """(success mask confirmed on the model, L∞, L2) in the unit box."""
    ok = np.asarray(model.predict(x_adv)) != y
    delta = (x_adv - x) / scale
    return ok, np.abs(delta).max(axis=1), np.linalg.norm(delta, axis=1)


def _row(
    name: str,
    model: Any,
    x: np.ndarray,
    x_adv: np.ndarray,
    y: np.ndarray,
    scale: np.ndarray,
    seconds: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ok, linf, l2 = _sizes(model, x, x_adv, y, scale)
    ok &= linf > 0
    return {
        "attack": name,
        "samples": len(x),
        "success_rate": float(ok.mean()),
        f"success_within_{EPS}": float((ok & (linf <= EPS + 1e-12)).mean()),
        "median_linf": float(np.median(linf[ok])) if ok.any() else None,
        "mean_linf": float(np.mean(linf[ok])) if ok.any() else None,
        "median_l2": float(np.median(l2[ok])) if ok.any() else None,
        "seconds": seconds,
        **(extra or {}),
    }


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """fn(*args, **kwargs) and its wall time in seconds."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def part_a(n: int) -> list[dict[str, Any]]:
    from art.attacks.evasion import DecisionTreeAttack
    from art.estimators.classification.scikitlearn import ScikitlearnDecisionTreeClassifier
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=SEED, stratify=y)
    spec = InputSpec(tuple(f"f{i}" for i in range(30)), np.zeros(30), np.ones(30))
    rows: list[dict[str, Any]] = []
    for label, model in (
        ("decision tree (depth 6)", DecisionTreeClassifier(max_depth=6, random_state=SEED)),
        (
            "random forest (10 x depth 4)",
            RandomForestClassifier(10, max_depth=4, random_state=SEED),
        ),
    ):
        model.fit(xtr, ytr)
        ens = extract(model)
        assert ens is not None
        keep = np.flatnonzero(model.predict(xte) == yte)[:n]
        xs, ys = xte[keep], yte[keep]
        res, t = _timed(milp_attack, ens, xs, ys, spec, time_limit=20.0)
        rows.append(
            _row(
                "redwatch exact MILP",
                model,
                xs,
                res.x_adv,
                ys,
                spec.scale,
                t,
                {"model": label, "leaves": ens.n_leaves, "proven_exact": float(res.exact.mean())},
            )
        )
        walk, t = _timed(leaf_walk, ens, xs, ys, spec, rng=np.random.default_rng(SEED))
        rows.append(
            _row(
                "redwatch leaf walk",
                model,
                xs,
                walk.x_adv,
                ys,
                spec.scale,
                t,
                {"model": label, "leaves": ens.n_leaves},
            )
        )
        if isinstance(model, DecisionTreeClassifier):
            art = DecisionTreeAttack(ScikitlearnDecisionTreeClassifier(model), verbose=False)
            adv, t = _timed(art.generate, xs)
            rows.append(
                _row(
                    "ART DecisionTreeAttack",
                    model,
                    xs,
                    np.asarray(adv),
                    ys,
                    spec.scale,
                    t,
                    {"model": label, "leaves": ens.n_leaves},
                )
            )
    return rows


def part_b(n: int) -> list[dict[str, Any]]:
    from art.attacks.evasion import ZooAttack
    from art.estimators.classification import XGBoostClassifier

    from redwatch.demo.models import train_credit_gbm

    demo = train_credit_gbm(seed=SEED)
    model = demo.model
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    ens = extract(model)
    assert ens is not None
    keep = np.flatnonzero(model.predict(demo.x_test) == demo.y_test)
    rng = np.random.default_rng(SEED)
    # both classes: every defaulter the model catches, then non-defaulters
    pos = keep[demo.y_test[keep] == 1]
    neg = rng.permutation(keep[demo.y_test[keep] == 0])
    keep = np.concatenate([pos[: n // 2], neg[: n - min(len(pos), n // 2)]])
    xs, ys = demo.x_test[keep], demo.y_test[keep]
    label = {"model": "credit XGBoost (100 x depth 4)", "leaves": ens.n_leaves}
    rows = []
    walk, t = _timed(leaf_walk, ens, xs, ys, spec, rng=np.random.default_rng(SEED))
    rows.append(_row("redwatch leaf walk", model, xs, walk.x_adv, ys, spec.scale, t, label))
    walk_eps, t = _timed(leaf_walk, ens, xs, ys, spec, eps=EPS)
    rows.append(
        _row(f"redwatch leaf walk (eps={EPS})", model, xs, walk_eps.x_adv, ys, spec.scale, t, label)
    )
    res, t = _timed(milp_attack, ens, xs, ys, spec, time_limit=20.0)
    rows.append(
        _row(
            "redwatch exact MILP",
            model,
            xs,
            res.x_adv,
            ys,
            spec.scale,
            t,
            {**label, "proven_exact": float(res.exact.mean())},
        )
    )
    clf = XGBoostClassifier(
        model=model, clip_values=(spec.lower, spec.upper), nb_features=3, nb_classes=2
    )
    zoo = ZooAttack(
        clf,
        max_iter=20,
        nb_parallel=3,
        use_resize=False,
        use_importance=False,
        learning_rate=0.1,
        binary_search_steps=5,
        verbose=False,
    )
    np.random.seed(SEED)  # ART draws from the global generator
    adv, t = _timed(zoo.generate, xs.astype(np.float32))
    rows.append(
        _row("ART ZooAttack", model, xs, np.asarray(adv, np.float64), ys, spec.scale, t, label)
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few samples (smoke run)")
    args = parser.parse_args()
    n_a, n_b = (10, 10) if args.quick else (60, 60)
    rows = part_a(n_a) + part_b(n_b)
    columns = [
        "model",
        "attack",
        "samples",
        "success_rate",
        f"success_within_{EPS}",
        "median_linf",
        "median_l2",
        "seconds",
    ]
    print_table(rows, columns)
    payload = {
        "benchmark": "trees",
        "seed": SEED,
        "settings": {
            "samples_a": n_a,
            "samples_b": n_b,
            "eps": EPS,
            "quick": args.quick,
            "units": "unit box: change / feature range",
        },
        "machine": machine_info(
            (
                "redwatch",
                "numpy",
                "scipy",
                "scikit-learn",
                "xgboost",
                "adversarial-robustness-toolbox",
            )
        ),
        "results": rows,
    }
    path = write_json("trees_quick" if args.quick else "trees", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
