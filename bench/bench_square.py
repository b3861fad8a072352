"""Square attack (L∞), redwatch vs ART 1.20.1 `SquareAttack`, success vs queries.

Same models seen as images (demo MNIST CNN 1x28x28; demo digits logistic regression 1x8x8),
same correctly classified held-out images, same ε, one counting wrapper for both. Both run
at a series of per-image budgets (ART: max_iter = budget, one restart); queries per image
are what each really spent (both stop an image at its first success). Headline: the mean
queries per image redwatch needs to reach ART's success at ART's largest budget, over what
ART spent there; wall time at the largest budget.

    python bench/bench_square.py [--quick] [--models mnist,digits]
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from _common import machine_info, print_table, write_json
from bench_hopskipjump import SEED, Case, digits_case, mnist_case, parse
from redwatch.attacks.square import square

EPS = {"mnist_cnn": 0.2, "digits_logreg": 0.1}
SHAPES = {"mnist_cnn": (1, 28, 28), "digits_logreg": (1, 8, 8)}


def within(case: Case, adv: np.ndarray) -> np.ndarray:
    """Uncounted re-check: misclassified and inside the L∞ ball."""
    rows, calls = case.counter.rows, case.counter.calls
    wrong = case.counter.labels(adv) != case.y
    case.counter.rows, case.counter.calls = rows, calls
    return np.asarray(wrong & (np.abs(adv - case.z).max(axis=1) <= case.eps + 1e-6))


def run_ours(case: Case, budget: int) -> dict[str, Any]:
    case.counter.follow(None)
    rows0 = case.counter.rows
    start = time.perf_counter()
    res = square(
        case.counter.proba,
        case.z,
        case.y,
        eps=case.eps,
        max_queries=budget,
        rng=np.random.default_rng(SEED),
        image_shape=SHAPES[case.name],
    )
    seconds = time.perf_counter() - start
    spent = case.counter.rows - rows0
    if int(res.queries.sum()) != spent or res.queries.max() > budget:
        raise RuntimeError(f"query accounting mismatch: {res.queries.sum()} vs {spent}")
    return _row("redwatch", case, res.x_adv, budget, spent, seconds)


def run_art(case: Case, budget: int) -> dict[str, Any]:
    from art.attacks.evasion import SquareAttack
    from art.estimators.classification import BlackBoxClassifierNeuralNetwork

    clf = BlackBoxClassifierNeuralNetwork(
        case.counter.proba,
        input_shape=SHAPES[case.name],
        nb_classes=case.n_classes,
        clip_values=(0.0, 1.0),
    )
    attack = SquareAttack(
        clf, norm=np.inf, eps=case.eps, max_iter=budget, nb_restarts=1, batch_size=1000
    )
    attack.set_params(verbose=False)
    np.random.seed(SEED)
    case.counter.follow(None)
    rows0 = case.counter.rows
    start = time.perf_counter()
    x = case.z.reshape(-1, *SHAPES[case.name]).astype(np.float32)
    adv = attack.generate(x, y=np.eye(case.n_classes)[case.y])
    seconds = time.perf_counter() - start
    spent = case.counter.rows - rows0
    adv = adv.reshape(len(case.z), -1).astype(np.float64)
    return _row("art", case, adv, budget, spent, seconds)


def _row(
    name: str, case: Case, adv: np.ndarray, budget: int, spent: int, seconds: float
) -> dict[str, Any]:
    return {
        "attack": name,
        "budget": budget,
        "success_rate": float(within(case, adv).mean()),
        "queries_per_image_mean": spent / len(case.z),
        "wall_s": seconds,
    }


def compare(case: Case, budgets: list[int]) -> dict[str, Any]:
    print(f"[square] {case.name}: budgets {budgets} ...", flush=True)
    art = [run_art(case, b) for b in budgets]
    ours = [run_ours(case, b) for b in budgets]
    final = art[-1]
    reach = next((r for r in ours if r["success_rate"] >= final["success_rate"] - 1e-12), None)
    ratio = (
        None if reach is None else reach["queries_per_image_mean"] / final["queries_per_image_mean"]
    )
    return {
        "model": case.description,
        "samples": len(case.z),
        "eps_linf": case.eps,
        "art": art,
        "redwatch": ours,
        "art_success_rate": final["success_rate"],
        "redwatch_budget_to_art_success": None if reach is None else reach["budget"],
        "queries_ratio_ours_over_art": ratio,
        "wall_time_ratio_redwatch_over_art": ours[-1]["wall_s"] / final["wall_s"],
        "wall_time_ratio_by_budget": {
            str(b): o["wall_s"] / a["wall_s"] for b, o, a in zip(budgets, ours, art, strict=True)
        },
    }


def main() -> None:
    args = parse(__doc__ or "", models="mnist,digits")
    budgets = [25, 50, 100, 200] if args.quick else [25, 50, 100, 200, 300, 500, 1000]
    cases = []
    names = args.models.split(",")
    if "mnist" in names:
        cases.append(mnist_case(20 if args.quick else 100, eps=EPS["mnist_cnn"]))
    if "digits" in names:
        cases.append(digits_case(40 if args.quick else 100, eps=EPS["digits_logreg"]))
    results = {c.name: compare(c, budgets) for c in cases}
    rows = [{"model": k, **r} for k, c in results.items() for r in c["art"] + c["redwatch"]]
    print_table(
        rows, ["model", "attack", "budget", "success_rate", "queries_per_image_mean", "wall_s"]
    )
    q = [c["queries_ratio_ours_over_art"] for c in results.values()]
    payload = {
        "benchmark": "square",
        "quick": args.quick,
        "seed": SEED,
        "norm": "inf",
        "budgets": budgets,
        "headline_rule": "worst (largest) ratio over the models",
        "queries_ratio_ours_over_art": None if None in q else max(q),
        "wall_time_ratio_redwatch_over_art": max(
            c["wall_time_ratio_redwatch_over_art"] for c in results.values()
        ),
        "goals": {"queries_ratio_at_most": 0.5, "wall_time_ratio_at_most": 0.1},
        "cases": results,
        "machine": machine_info(("numpy", "torch", "adversarial-robustness-toolbox", "redwatch")),
    }
    print(write_json("square_quick" if args.quick else "square", payload))


if __name__ == "__main__":
    main()
