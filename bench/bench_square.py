"""Square attack (L∞), redwatch vs ART 1.20.1 SquareAttack on the demo MNIST CNN.

Same model, same correctly classified held-out images, eps 0.2, equal query budgets per
image (ART's max_iter is one query per image per iteration after its init). Success is
re-checked on the model; wall time in the same run.

    python bench/bench_square.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from _common import machine_info, print_table, write_json
from redwatch.attacks.square import square
from redwatch.demo.models import predict_labels, train_mnist_cnn
from redwatch.targets.torch_target import TorchTarget

SEED = 0
THREADS = 2
EPS = 0.2


def run_ours(module: Any, x: np.ndarray, y: np.ndarray, budget: int) -> dict[str, Any]:
    """redwatch's Square through its torch target (scores only)."""
    target = TorchTarget(module, input_shape=(1, 28, 28), name="mnist-cnn", batch_size=500)
    start = time.perf_counter()
    res = square(
        target.predict_proba,
        x,
        y,
        eps=EPS,
        max_queries=budget,
        rng=np.random.default_rng(SEED),
        image_shape=(1, 28, 28),
    )
    seconds = time.perf_counter() - start
    return _summary("redwatch", module, x, y, res.x_adv, seconds, budget, float(res.queries.mean()))


def run_art(module: Any, x: np.ndarray, y: np.ndarray, budget: int) -> dict[str, Any]:
    """ART's SquareAttack with max_iter = the same per-image budget, one restart."""
    from art.attacks.evasion import SquareAttack
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(
        module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 28, 28),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    attack = SquareAttack(
        clf, norm=np.inf, eps=EPS, max_iter=budget, nb_restarts=1, batch_size=500, verbose=False
    )
    np.random.seed(SEED)
    start = time.perf_counter()
    adv = attack.generate(x.reshape(-1, 1, 28, 28).astype(np.float32), y=np.eye(10)[y])
    seconds = time.perf_counter() - start
    return _summary(
        "art", module, x, y, adv.reshape(len(x), -1).astype(np.float64), seconds, budget, None
    )


def _summary(
    name: str,
    module: Any,
    x: np.ndarray,
    y: np.ndarray,
    adv: np.ndarray,
    seconds: float,
    budget: int,
    mean_queries: float | None,
) -> dict[str, Any]:
    success = predict_labels(module, adv) != y
    return {
        "attack": name,
        "budget": budget,
        "success_rate": float(success.mean()),
        "max_linf": float(np.abs(adv - x).max()),
        "wall_s": seconds,
        "queries_per_image_mean": mean_queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 images, budget 100")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    n, budgets = (30, (100,)) if args.quick else (100, (300, 1000))
    demo = train_mnist_cnn(seed=SEED, threads=THREADS)
    ok = np.flatnonzero(predict_labels(demo.model, demo.x_test) == demo.y_test)
    idx = np.random.default_rng(SEED).choice(ok, size=min(n, len(ok)), replace=False)
    x, y = demo.x_test[idx].astype(np.float64), demo.y_test[idx]
    results = []
    for budget in budgets:
        results.append(run_art(demo.model, x, y, budget))
        results.append(run_ours(demo.model, x, y, budget))
    print_table(results, ["attack", "budget", "success_rate", "wall_s", "queries_per_image_mean"])
    ratios = {
        str(b): next(r for r in results if r["attack"] == "redwatch" and r["budget"] == b)["wall_s"]
        / next(r for r in results if r["attack"] == "art" and r["budget"] == b)["wall_s"]
        for b in budgets
    }
    payload = {
        "benchmark": "square",
        "machine": machine_info(("redwatch", "adversarial-robustness-toolbox", "torch")),
        "model": "demo MNIST CNN",
        "norm": "inf",
        "eps": EPS,
        "samples": len(x),
        "seed": SEED,
        "quick": args.quick,
        "results": results,
        "wall_time_ratio_redwatch_over_art": ratios,
    }
    print(write_json("square_quick" if args.quick else "square", payload))


if __name__ == "__main__":
    main()
