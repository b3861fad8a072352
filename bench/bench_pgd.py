"""PGD (L∞), redwatch vs ART 1.20.1 ProjectedGradientDescentPyTorch on the demo MNIST CNN.

Same model, same 500 correctly classified held-out images, same eps, step size, number of
steps and one random start. redwatch runs twice: checking labels after every step
(the default) and every 5 steps. It gets its gradients and labels from
redwatch.targets.torch_target.TorchTarget and stops each image at its first adversarial step;
ART runs every step for every image.

    python bench/bench_pgd.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from _common import machine_info, print_table, write_json
from redwatch.attacks import pgd
from redwatch.demo.models import predict_labels, train_mnist_cnn

SEED = 0
THREADS = 2
ROUNDS = 3  # interleaved repetitions; the machine is shared, medians damp its noise
CHECK_EVERY = 5  # second redwatch run: labels every 5 steps instead of every step


def model_fns(
    module: Any,
) -> tuple[Callable[..., np.ndarray], Callable[[np.ndarray], np.ndarray], str]:
    """grad_fn, predict_fn and where they come from: redwatch's own torch target."""
    from redwatch.targets.torch_target import TorchTarget

    target = TorchTarget(module, input_shape=(1, 28, 28), name="mnist-cnn", batch_size=500)
    return target.loss_gradient, target.predict, "redwatch.targets.torch_target.TorchTarget"


def run_art(module: Any, x: np.ndarray, y: np.ndarray, cfg: dict[str, Any]) -> dict[str, Any]:
    """ART's PGD with one random start, every step for every image."""
    from art.attacks.evasion import ProjectedGradientDescentPyTorch
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(
        module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(784,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    attack = ProjectedGradientDescentPyTorch(
        clf,
        norm=np.inf,
        eps=cfg["eps"],
        eps_step=cfg["step_size"],
        max_iter=cfg["steps"],
        num_random_init=1,
        batch_size=cfg["batch_size"],
        verbose=False,
    )
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    start = time.perf_counter()
    adv = attack.generate(x.astype(np.float32), y=y)
    seconds = time.perf_counter() - start
    return summarize("art", module, x, y, np.asarray(adv, np.float64), seconds, None)


def run_ours(
    module: Any, x: np.ndarray, y: np.ndarray, cfg: dict[str, Any], check_every: int
) -> dict[str, Any]:
    """redwatch's PGD: per-image early stop at the first adversarial (checked) step."""
    grad_fn, predict_fn, source = model_fns(module)
    start = time.perf_counter()
    res = pgd(
        grad_fn,
        predict_fn,
        x,
        y,
        eps=cfg["eps"],
        norm="inf",
        step_size=cfg["step_size"],
        steps=cfg["steps"],
        restarts=1,
        batch_size=cfg["batch_size"],
        rng=np.random.default_rng(SEED),
        check_every=check_every,
    )
    seconds = time.perf_counter() - start
    name = "redwatch" if check_every == 1 else f"redwatch(check_every={check_every})"
    out = summarize(name, module, x, y, res.x_adv, seconds, res.queries)
    out["check_every"] = check_every
    out["gradient_source"] = source
    return out


def summarize(
    name: str,
    module: Any,
    x: np.ndarray,
    y: np.ndarray,
    adv: np.ndarray,
    seconds: float,
    queries: np.ndarray | None,
) -> dict[str, Any]:
    """Success re-checked on the model; L∞ checked against eps by the caller's table."""
    success = predict_labels(module, adv) != y
    linf = np.abs(adv - x).max(axis=1)
    return {
        "attack": name,
        "success_rate": float(success.mean()),
        "max_linf": float(linf.max()),
        "wall_s": seconds,
        "model_rows_mean": None if queries is None else float(queries.mean()),
    }


def warm_up(module: Any, x: np.ndarray, y: np.ndarray) -> None:
    """One forward/backward so neither side pays torch's first-call cost."""
    grad_fn, _, _ = model_fns(module)
    grad_fn(x[:64], y[:64])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 images, 10 steps")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    n, steps = (100, 10) if args.quick else (500, 40)
    cfg = {"eps": 0.1, "step_size": 0.01, "steps": steps, "batch_size": 500, "restarts": 1}
    demo = train_mnist_cnn(seed=SEED, threads=THREADS)
    module = demo.model
    ok = np.flatnonzero(predict_labels(module, demo.x_test) == demo.y_test)
    idx = np.random.default_rng(SEED).choice(ok, size=min(n, len(ok)), replace=False)
    x, y = demo.x_test[idx], demo.y_test[idx]
    warm_up(module, x, y)
    rounds = [
        [
            run_art(module, x, y, cfg),
            run_ours(module, x, y, cfg, 1),
            run_ours(module, x, y, cfg, CHECK_EVERY),
        ]
        for _ in range(1 if args.quick else ROUNDS)
    ]
    rows = [
        dict(r, wall_s=float(np.median([rd[i]["wall_s"] for rd in rounds])))
        for i, r in enumerate(rounds[-1])
    ]
    ours = rows[1]
    print_table(rows, ["attack", "success_rate", "max_linf", "wall_s", "model_rows_mean"])
    ratios = [[rd[i]["wall_s"] / rd[0]["wall_s"] for rd in rounds] for i in (1, 2)]
    ratio, ratio_sparse = (float(np.median(r)) for r in ratios)
    print(
        f"median wall-time ratio redwatch/ART over {len(rounds)} interleaved rounds: "
        f"{ratio:.4f} (labels every step), {ratio_sparse:.4f} (every {CHECK_EVERY} steps); "
        f"gradients: {ours['gradient_source']}"
    )
    path = write_json(
        "pgd" + ("_quick" if args.quick else ""),
        {
            "benchmark": "pgd",
            "quick": args.quick,
            "seed": SEED,
            "model": f"demo MNIST CNN (2 conv + 1 linear), held-out accuracy {demo.accuracy():.4f}",
            "samples": len(x),
            "norm": "inf",
            "settings": cfg,
            "torch_threads": THREADS,
            "gradient_source": ours["gradient_source"],
            "results": rows,
            "rounds": len(rounds),
            "timing_rule": "each round runs ART, redwatch, redwatch(check_every) back to back; "
            "wall_s is the median over rounds, ratios are medians of per-round ratios",
            "wall_s_per_round": [[r["wall_s"] for r in rd] for rd in rounds],
            "ratios_per_round": ratios,
            "wall_time_ratio_redwatch_over_art": ratio,
            f"wall_time_ratio_redwatch_check_every_{CHECK_EVERY}_over_art": ratio_sparse,
            "machine": machine_info(
                ("numpy", "torch", "adversarial-robustness-toolbox", "redwatch")
            ),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
