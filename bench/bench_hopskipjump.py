"""HopSkipJump, redwatch (batched, stops per sample once within ε) vs ART 1.20.1 `HopSkipJump`.

Same models (demo MNIST CNN and demo credit XGBoost, both seen in [0, 1] units), same
correctly classified held-out samples, L2, same iteration / evaluation settings. Every model
row either attack sends goes through one counting wrapper, so queries are counted alike.

Measured per model:
- success within ε vs queries per sample: redwatch run at a series of per-sample caps;
  ART run once at its full setting (one sample at a time, so its queries are exact);
- ART's "first hit" trace: the first query at which ART showed the model an adversarial row
  within ε of the sample (generous to ART: it counts points ART did not return);
- the queries redwatch needs to reach ART's final success rate, and the ratio to ART's;
- wall time, like for like (redwatch in minimal-norm mode at ART's mean queries per sample).

    python bench/bench_hopskipjump.py [--quick] [--models mnist,credit]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np

from _common import machine_info, print_table, write_json
from redwatch.attacks.base import AttackResult
from redwatch.attacks.hopskipjump import hopskipjump

SEED = 0
THREADS = 2
OursFn = Callable[
    [Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray, int, "float | None"], AttackResult
]


class Counter:
    """A model seen in [0, 1] units. Counts rows and calls; while `watch` is set (one sample
    under attack) it records the first query that is adversarial within ε of that sample."""

    def __init__(self, proba: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = proba
        self.rows = 0
        self.calls = 0
        self.watch: tuple[np.ndarray, int, float] | None = None
        self.first_hit: int | None = None
        self.start = 0

    def proba(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
        p = np.asarray(self.fn(z), dtype=np.float64)
        if self.watch is not None and self.first_hit is None:
            x0, y0, eps = self.watch
            near = np.linalg.norm(z - x0, axis=1) <= eps + 1e-9
            hit = np.flatnonzero(near & (p.argmax(axis=1) != y0))
            if len(hit):
                self.first_hit = self.rows - self.start + int(hit[0]) + 1
        self.rows += len(z)
        self.calls += 1
        return p

    def labels(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.proba(z).argmax(axis=1))

    def follow(self, x0: np.ndarray | None, y0: int = 0, eps: float = 0.0) -> None:
        """Start (or stop, with None) tracing one sample."""
        self.watch = None if x0 is None else (x0, y0, eps)
        self.first_hit = None
        self.start = self.rows


@dataclass
class Case:
    """One model with its samples (in [0, 1] units) and the ε that counts as success."""

    name: str
    description: str
    counter: Counter
    z: np.ndarray
    y: np.ndarray
    eps: float
    n_classes: int

    def fooled(self, adv: np.ndarray) -> np.ndarray:
        """Uncounted re-check: misclassified and within ε."""
        self.counter.follow(None)
        rows, calls = self.counter.rows, self.counter.calls
        wrong = self.counter.labels(adv) != self.y
        self.counter.rows, self.counter.calls = rows, calls
        return np.asarray(wrong & (np.linalg.norm(adv - self.z, axis=1) <= self.eps + 1e-9))


def _pick(proba: Callable[[np.ndarray], np.ndarray], z: np.ndarray, y: np.ndarray, n: int):  # type: ignore[no-untyped-def]
    ok = np.flatnonzero(proba(z).argmax(axis=1) == y)
    idx = np.random.default_rng(SEED).choice(ok, size=min(n, len(ok)), replace=False)
    return z[idx], y[idx]


def mnist_case(n: int, eps: float = 2.0) -> Case:
    """Demo MNIST CNN, L2 ε in pixel units (redwatch's image reference ε is 2.0)."""
    import torch

    from redwatch.demo.models import train_mnist_cnn

    torch.set_num_threads(THREADS)
    demo = train_mnist_cnn(seed=SEED, threads=THREADS)

    def proba(z: np.ndarray) -> np.ndarray:
        # batches of 256 rows, as redwatch's TorchTarget feeds a CNN: one call with tens of
        # thousands of images would hold gigabytes of activations and slow both tools
        out = []
        with torch.no_grad():
            for i in range(0, len(z), 256):
                logits = demo.model(torch.as_tensor(z[i : i + 256], dtype=torch.float32))
                out.append(np.asarray(torch.softmax(logits, dim=1).numpy(), dtype=np.float64))
        return np.concatenate(out) if out else np.zeros((0, 10))

    z, y = _pick(proba, demo.x_test.astype(np.float64), demo.y_test, n)
    desc = "demo MNIST CNN (2 conv + 1 linear), 784 pixels in [0, 1]"
    return Case("mnist_cnn", desc, Counter(proba), z, y, eps, 10)


def credit_case(n: int, eps: float = 0.25) -> Case:
    """Demo credit XGBoost behind a [0, 1] min-max wrapper (3 features)."""
    from redwatch.demo.models import train_credit_gbm

    demo = train_credit_gbm(seed=SEED)
    lo, span = demo.x_train.min(axis=0), np.ptp(demo.x_train, axis=0)

    def proba(z: np.ndarray) -> np.ndarray:
        return np.asarray(demo.model.predict_proba(lo + z * span), dtype=np.float64)

    z = np.clip((demo.x_test - lo) / span, 0.0, 1.0)
    z, y = _pick(proba, z, demo.y_test, n)
    desc = "demo credit XGBoost (100 trees, depth 4), features min-max scaled to [0, 1]"
    return Case("credit_xgboost", desc, Counter(proba), z, y, eps, 2)


def digits_case(n: int, eps: float = 1.0) -> Case:
    """Demo digits logistic regression (8x8 pixels in [0, 1], 10 classes): a cheap model."""
    from redwatch.demo.models import train_digits_logreg

    demo = train_digits_logreg(seed=SEED)

    def proba(z: np.ndarray) -> np.ndarray:
        return np.asarray(demo.model.predict_proba(z), dtype=np.float64)

    z, y = _pick(proba, demo.x_test.astype(np.float64), demo.y_test, n)
    desc = "demo digits logistic regression, 64 pixels in [0, 1], 10 classes"
    return Case("digits_logreg", desc, Counter(proba), z, y, eps, 10)


def run_art(case: Case, make_attack: Callable[[Any], Any]) -> dict[str, Any]:
    """The ART attack one sample at a time through a BlackBoxClassifier on the counter."""
    from art.estimators.classification import BlackBoxClassifier

    clf = BlackBoxClassifier(
        case.counter.proba,
        input_shape=(case.z.shape[1],),
        nb_classes=case.n_classes,
        clip_values=(0.0, 1.0),
    )
    attack = make_attack(clf)
    np.random.seed(SEED)  # ART draws from numpy's global generator
    n = len(case.z)
    adv, queries = np.zeros_like(case.z), np.zeros(n, dtype=np.int64)
    first = np.full(n, np.inf)
    start = time.perf_counter()
    for i in range(n):
        case.counter.follow(case.z[i], int(case.y[i]), case.eps)
        onehot = np.eye(case.n_classes)[case.y[i : i + 1]]
        adv[i] = attack.generate(case.z[i : i + 1].astype(np.float32), y=onehot)[0]
        queries[i] = case.counter.rows - case.counter.start
        if case.counter.first_hit is not None:
            first[i] = case.counter.first_hit
    seconds = time.perf_counter() - start
    fooled = case.fooled(adv.astype(np.float64))
    return {
        "success_rate": float(fooled.mean()),
        "queries_per_sample_mean": float(queries.mean()),
        "queries_per_sample_max": int(queries.max()),
        "first_hit_queries": [None if not np.isfinite(f) else int(f) for f in first],
        "median_l2": _median_l2(case, adv, fooled),
        "wall_s": seconds,
    }


def run_ours(case: Case, attack: OursFn, budget: int, eps: float | None) -> dict[str, Any]:
    """redwatch's batched attack with a hard per-sample cap (`eps=None`: minimal-norm mode)."""
    case.counter.follow(None)
    rows0 = case.counter.rows
    start = time.perf_counter()
    res = attack(case.counter.labels, case.z, case.y, budget, eps)
    seconds = time.perf_counter() - start
    spent = case.counter.rows - rows0
    if int(res.queries.sum()) != spent or res.queries.max() > budget:
        raise RuntimeError(f"query accounting mismatch: {res.queries.sum()} vs {spent}")
    fooled = case.fooled(res.x_adv)
    return {
        "budget": budget,
        "success_rate": float(fooled.mean()),
        "queries_per_sample_mean": float(res.queries.mean()),
        "queries_to_success_median": (
            float(np.median(res.queries[fooled])) if fooled.any() else None
        ),
        "median_l2": _median_l2(case, res.x_adv, fooled),
        "wall_s": seconds,
    }


def _median_l2(case: Case, adv: np.ndarray, fooled: np.ndarray) -> float | None:
    if not fooled.any():
        return None
    return float(np.median(np.linalg.norm(adv[fooled] - case.z[fooled], axis=1)))


def budgets_up_to(limit: float) -> list[int]:
    """Per-sample caps on a fine geometric grid, up to ART's mean queries per sample."""
    grid = [m * 10**e for e in range(2, 6) for m in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8.5)]
    out = [int(b) for b in grid if b < limit]
    return [*out, int(limit)]


def reach(curve: list[dict[str, Any]], level: float) -> int | None:
    """Smallest budget whose success rate reaches `level` (None: never)."""
    return next((p["budget"] for p in curve if p["success_rate"] >= level - 1e-12), None)


def compare(case: Case, make_art: Callable[[Any], Any], ours: OursFn, label: str) -> dict[str, Any]:
    """Everything measured on one model: ART once, redwatch over a series of caps."""
    print(f"[{label}] {case.name}: ART ...", flush=True)
    art = run_art(case, make_art)
    q_art = art["queries_per_sample_mean"]
    budgets = budgets_up_to(q_art)
    print(f"[{label}] {case.name}: redwatch at caps {budgets} ...", flush=True)
    curve = [run_ours(case, ours, b, case.eps) for b in budgets]
    same = run_ours(case, ours, int(q_art), None)  # like for like: minimal norm, same cap
    first = np.array([np.inf if f is None else f for f in art["first_hit_queries"]])
    art_trace = [{"budget": b, "success_rate": float(np.mean(first <= b))} for b in budgets]
    target = art["success_rate"]
    needed = reach(curve, target)
    trace_needed = reach(art_trace, target)
    return {
        "model": case.description,
        "samples": len(case.z),
        "eps_l2": case.eps,
        "art": art,
        "redwatch_curve": curve,
        "art_first_hit_curve": art_trace,
        "redwatch_minimal_norm_at_art_queries": same,
        "art_success_rate": target,
        "redwatch_queries_to_art_success": needed,
        "queries_ratio_ours_over_art": None if needed is None else needed / q_art,
        "queries_ratio_ours_over_art_first_hit": (
            None if needed is None or trace_needed is None else needed / trace_needed
        ),
        "wall_time_ratio_redwatch_over_art": same["wall_s"] / art["wall_s"],
        "wall_time_ratio_early_stop_over_art": curve[-1]["wall_s"] / art["wall_s"],
    }


def report(name: str, quick: bool, cases: dict[str, dict[str, Any]], extra: dict[str, Any]) -> None:
    """Print the per-model table and write the JSON with headline keys (worst case wins)."""
    rows = []
    for key, c in cases.items():
        rows.append(
            {
                "model": key,
                "art_success": c["art_success_rate"],
                "art_queries": c["art"]["queries_per_sample_mean"],
                "ours_queries_to_art_success": c["redwatch_queries_to_art_success"],
                "queries_ratio": c["queries_ratio_ours_over_art"],
                "ratio_vs_first_hit": c["queries_ratio_ours_over_art_first_hit"],
                "wall_ratio": c["wall_time_ratio_redwatch_over_art"],
            }
        )
    print_table(rows, list(rows[0]))
    q = [c["queries_ratio_ours_over_art"] for c in cases.values()]
    w = [c["wall_time_ratio_redwatch_over_art"] for c in cases.values()]
    payload = {
        "benchmark": name,
        "quick": quick,
        "seed": SEED,
        "norm": "2",
        "headline_rule": "worst (largest) ratio over the models; None if a model never "
        "reached ART's success within the caps",
        "queries_ratio_ours_over_art": None if None in q else max(q),
        "wall_time_ratio_redwatch_over_art": max(w),
        "goals": {"queries_ratio_at_most": 0.5, "wall_time_ratio_at_most": 0.1},
        "cases": cases,
        "machine": machine_info(
            ("numpy", "torch", "xgboost", "adversarial-robustness-toolbox", "redwatch")
        ),
        **extra,
    }
    print(write_json(name + ("_quick" if quick else ""), payload))


def parse(doc: str, models: str = "mnist,credit") -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few samples, few iterations")
    parser.add_argument("--models", default=models, help="comma list: mnist, credit, digits")
    return parser.parse_args()


def make_cases(args: argparse.Namespace, n_mnist: int, n_credit: int) -> list[Case]:
    names = args.models.split(",")
    out = []
    if "mnist" in names:
        out.append(mnist_case(n_mnist))
    if "credit" in names:
        out.append(credit_case(n_credit))
    if "digits" in names:
        out.append(digits_case(n_credit))
    return out


def main() -> None:
    args = parse(__doc__ or "")
    settings = {
        "max_iter": 4 if args.quick else 15,
        "init_evals": 100,
        "max_evals": 1000,
        "init_trials": 100,
    }

    def make_art(clf: Any) -> Any:
        from art.attacks.evasion import HopSkipJump

        return HopSkipJump(
            clf,
            targeted=False,
            norm=2,
            max_iter=settings["max_iter"],
            max_eval=settings["max_evals"],
            init_eval=settings["init_evals"],
            init_size=settings["init_trials"],
            verbose=False,
        )

    def ours(predict: Any, z: np.ndarray, y: np.ndarray, cap: int, eps: float | None) -> Any:
        return hopskipjump(
            predict,
            z,
            y,
            norm="2",
            max_queries=cap,
            max_iter=1000,
            init_evals=settings["init_evals"],
            max_evals=settings["max_evals"],
            init_trials=settings["init_trials"],
            eps=eps,
            rng=np.random.default_rng(SEED),
        )

    cases = make_cases(args, 4 if args.quick else 20, 10 if args.quick else 50)
    results = {c.name: compare(c, make_art, ours, "hopskipjump") for c in cases}
    report("hopskipjump", args.quick, results, {"settings": settings})


if __name__ == "__main__":
    main()
