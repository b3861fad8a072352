"""HopSkipJump, redwatch (batched across samples) vs ART 1.20.1 (one sample at a time).

Same model (the demo credit XGBoost, features min-max scaled to [0, 1] by a wrapper), same
50 correctly classified held-out samples, L2, same iteration/evaluation settings. ART runs
first; a counting wrapper records the rows it sends for each sample, and redwatch gets the
mean of those as its hard per-sample query cap, so redwatch never spends more in total.

    python bench/bench_hopskipjump.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from _common import machine_info, print_table, write_json
from redwatch.attacks import hopskipjump
from redwatch.demo.models import train_credit_gbm

SEED = 0


class CountingModel:
    """The GBM seen in [0, 1] units; counts rows and calls so both sides are metered alike."""

    def __init__(self, model: Any, lower: np.ndarray, upper: np.ndarray) -> None:
        self.model = model
        self.lower = lower
        self.span = upper - lower
        self.rows = 0
        self.calls = 0

    def proba(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
        self.rows += len(z)
        self.calls += 1
        return np.asarray(self.model.predict_proba(self.lower + z * self.span))

    def labels(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.proba(z).argmax(axis=1))


def pick_samples(demo: Any, wrap: CountingModel, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n held-out rows that the model classifies correctly, in [0, 1] units (seeded)."""
    z = np.clip((demo.x_test - wrap.lower) / wrap.span, 0.0, 1.0)
    ok = np.flatnonzero(wrap.labels(z) == demo.y_test)
    idx = np.random.default_rng(SEED).choice(ok, size=n, replace=False)
    return z[idx], demo.y_test[idx]


def run_art(
    wrap: CountingModel, z: np.ndarray, y: np.ndarray, cfg: dict[str, int]
) -> dict[str, Any]:
    """ART's HopSkipJump sample by sample, so the counter attributes queries exactly."""
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import BlackBoxClassifier

    np.random.seed(SEED)  # ART draws from numpy's global generator
    clf = BlackBoxClassifier(
        wrap.proba, input_shape=(z.shape[1],), nb_classes=2, clip_values=(0.0, 1.0)
    )
    attack = HopSkipJump(
        clf,
        targeted=False,
        norm=2,
        max_iter=cfg["max_iter"],
        max_eval=cfg["max_evals"],
        init_eval=cfg["init_evals"],
        init_size=cfg["init_trials"],
        verbose=False,
    )
    adv, queries = np.zeros_like(z), np.zeros(len(z), dtype=np.int64)
    wrap.rows = wrap.calls = 0
    start = time.perf_counter()
    for i in range(len(z)):
        before = wrap.rows
        adv[i] = attack.generate(z[i : i + 1], y=np.eye(2)[y[i : i + 1]])[0]
        queries[i] = wrap.rows - before
    seconds = time.perf_counter() - start
    return summarize("art", wrap, z, y, adv, queries, seconds)


def run_ours(
    wrap: CountingModel, z: np.ndarray, y: np.ndarray, cfg: dict[str, int], budget: int
) -> dict[str, Any]:
    """redwatch's batched HopSkipJump with a hard per-sample cap of `budget` rows."""
    wrap.rows = wrap.calls = 0
    start = time.perf_counter()
    res = hopskipjump(
        wrap.labels,
        z,
        y,
        norm="2",
        max_queries=budget,
        max_iter=cfg["max_iter"],
        init_evals=cfg["init_evals"],
        max_evals=cfg["max_evals"],
        init_trials=cfg["init_trials"],
        rng=np.random.default_rng(SEED),
    )
    seconds = time.perf_counter() - start
    if int(res.queries.sum()) != wrap.rows:
        raise RuntimeError(f"query accounting mismatch: {res.queries.sum()} vs {wrap.rows}")
    return summarize("redwatch", wrap, z, y, res.x_adv, res.queries, seconds)


def summarize(
    name: str,
    wrap: CountingModel,
    z: np.ndarray,
    y: np.ndarray,
    adv: np.ndarray,
    queries: np.ndarray,
    seconds: float,
) -> dict[str, Any]:
    """Success is re-checked on the model (uncounted); L2 over successful samples only."""
    calls, rows = wrap.calls, wrap.rows
    success = wrap.labels(adv) != y
    l2 = np.linalg.norm(adv - z, axis=1)[success]
    return {
        "attack": name,
        "success_rate": float(success.mean()),
        "median_l2": float(np.median(l2)) if len(l2) else None,
        "mean_l2": float(np.mean(l2)) if len(l2) else None,
        "wall_s": seconds,
        "queries_total": int(rows),
        "queries_per_sample_mean": float(queries.mean()),
        "queries_per_sample_max": int(queries.max()),
        "model_calls": int(calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 samples, 10 iterations")
    args = parser.parse_args()
    n = 10 if args.quick else 50
    cfg = {
        "max_iter": 10 if args.quick else 40,
        "init_evals": 100,
        "max_evals": 1000,
        "init_trials": 100,
    }
    demo = train_credit_gbm(seed=SEED)
    lower, upper = demo.x_train.min(axis=0), demo.x_train.max(axis=0)
    wrap = CountingModel(demo.model, lower, upper)
    z, y = pick_samples(demo, wrap, n)
    art = run_art(wrap, z, y, cfg)
    budget = int(art["queries_per_sample_mean"])
    ours = run_ours(wrap, z, y, cfg, budget)
    rows = [art, ours]
    print_table(
        rows,
        [
            "attack",
            "success_rate",
            "median_l2",
            "wall_s",
            "queries_total",
            "queries_per_sample_mean",
            "queries_per_sample_max",
            "model_calls",
        ],
    )
    ratio = ours["wall_s"] / art["wall_s"]
    print(f"wall-time ratio redwatch/ART: {ratio:.4f}")
    path = write_json(
        "hopskipjump" + ("_quick" if args.quick else ""),
        {
            "benchmark": "hopskipjump",
            "quick": args.quick,
            "seed": SEED,
            "model": "demo credit XGBoost (100 trees, depth 4) behind a [0,1] min-max wrapper",
            "samples": n,
            "sample_classes": {
                str(k): int(v) for k, v in zip(*np.unique(y, return_counts=True), strict=True)
            },
            "norm": "2",
            "settings": cfg,
            "budget_rule": "redwatch max_queries per sample = floor(mean ART queries per sample)",
            "redwatch_max_queries": budget,
            "results": rows,
            "wall_time_ratio_redwatch_over_art": ratio,
            "machine": machine_info(
                ("numpy", "xgboost", "scikit-learn", "adversarial-robustness-toolbox", "redwatch")
            ),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
