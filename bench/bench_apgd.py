"""APGD and PGD, redwatch vs ART 1.20.1 on the demo MNIST CNN, L∞ and L2.

Same model, same correctly classified held-out images, same eps, number of steps and one
random start. APGD: ART's AutoProjectedGradientDescent (PyTorchClassifier, loss_type
cross_entropy / difference_logits_ratio, initial step 2·eps as in Croce & Hein) against
redwatch.attacks.apgd (CE, DLR, and CE then DLR on the rows CE left, as the evasion.apgd probe
runs it). PGD: ART's ProjectedGradientDescentPyTorch against redwatch.attacks.pgd with the same
step size. redwatch gets gradients and labels from its TorchTarget and stops each image at its
first adversarial step; robust accuracy is re-checked on the model for both sides.

    python bench/bench_apgd.py [--quick]
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
from redwatch.attacks.apgd import apgd
from redwatch.attacks.base import AttackResult
from redwatch.demo.models import predict_labels, train_mnist_cnn
from redwatch.targets.torch_target import TorchTarget

SEED = 0
THREADS = 2
ROUNDS = 1  # raise for interleaved repeats (medians damp noise); 1 keeps a full run ~4 min
EPS = {"inf": 0.1, "2": 2.0}  # the demo reference epsilons (pixel range [0, 1])
ART_LOSS = {"ce": "cross_entropy", "dlr": "difference_logits_ratio"}

Attack = Callable[[], np.ndarray]


def art_classifier(module: Any) -> Any:
    """ART's PyTorch wrapper around the same module (flattened rows, logits out)."""
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(784,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )


def art_apgd(module: Any, x: np.ndarray, y: np.ndarray, norm: str, loss: str, cfg: dict) -> Attack:
    """ART's APGD with one random start."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    attack = AutoProjectedGradientDescent(
        art_classifier(module),
        norm=np.inf if norm == "inf" else 2,
        eps=EPS[norm],
        eps_step=2 * EPS[norm],
        max_iter=cfg["steps"],
        nb_random_init=1,
        batch_size=cfg["batch_size"],
        loss_type=ART_LOSS[loss],
        verbose=False,
    )
    return lambda: np.asarray(attack.generate(x.astype(np.float32), y=y), np.float64)


def art_pgd(module: Any, x: np.ndarray, y: np.ndarray, norm: str, cfg: dict) -> Attack:
    """ART's PGD with one random start, every step for every image."""
    from art.attacks.evasion import ProjectedGradientDescentPyTorch

    attack = ProjectedGradientDescentPyTorch(
        art_classifier(module),
        norm=np.inf if norm == "inf" else 2,
        eps=EPS[norm],
        eps_step=2.5 * EPS[norm] / cfg["steps"],
        max_iter=cfg["steps"],
        num_random_init=1,
        batch_size=cfg["batch_size"],
        verbose=False,
    )
    return lambda: np.asarray(attack.generate(x.astype(np.float32), y=y), np.float64)


def ours(
    module: Any, x: np.ndarray, y: np.ndarray, norm: str, losses: tuple[str, ...], cfg: dict
) -> Callable[[], AttackResult]:
    """redwatch APGD with the given losses in turn (later ones only on rows still robust);
    losses == ("pgd",) runs redwatch PGD instead."""
    target = TorchTarget(module, input_shape=(1, 28, 28), name="mnist-cnn", batch_size=500)
    common = {"eps": EPS[norm], "norm": norm, "steps": cfg["steps"], "batch_size": 500}

    def run() -> AttackResult:
        rng = np.random.default_rng(SEED)
        if losses == ("pgd",):
            return pgd(target.loss_gradient, target.predict, x, y, rng=rng, **common)
        res = apgd(
            target.loss_value_and_gradient, target.predict, x, y, loss=losses[0], rng=rng, **common
        )
        for loss in losses[1:]:
            todo = np.flatnonzero(~res.success)
            more = apgd(
                target.loss_value_and_gradient, target.predict, x[todo], y[todo],
                loss=loss, rng=rng, **common,
            )  # fmt: skip
            res.x_adv[todo], res.success[todo] = more.x_adv, more.success
            res.queries[todo] += more.queries
        return res

    return run


def measure(name: str, module: Any, x: np.ndarray, y: np.ndarray, norm: str, fn: Any) -> dict:
    """Run once; robust accuracy and the largest perturbation, re-checked on the model."""
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    adv = out.x_adv if isinstance(out, AttackResult) else out
    delta = adv - x
    size = np.abs(delta).max(axis=1) if norm == "inf" else np.linalg.norm(delta, axis=1)
    return {
        "attack": name,
        "norm": norm,
        "eps": EPS[norm],
        "robust_accuracy": float(np.mean(predict_labels(module, adv) == y)),
        "max_norm": float(size.max()),
        "wall_s": seconds,
        "model_rows_mean": float(out.queries.mean()) if isinstance(out, AttackResult) else None,
    }


def plan(module: Any, x: np.ndarray, y: np.ndarray, cfg: dict) -> list[tuple[str, str, Any]]:
    """(name, norm, zero-argument attack) for every comparison, ART first in each pair."""
    runs: list[tuple[str, str, Any]] = []
    for norm in ("inf", "2"):
        for loss in ("ce", "dlr"):
            runs.append((f"art-apgd-{loss}", norm, art_apgd(module, x, y, norm, loss, cfg)))
            runs.append((f"redwatch-apgd-{loss}", norm, ours(module, x, y, norm, (loss,), cfg)))
        runs.append(("redwatch-apgd-ce+dlr", norm, ours(module, x, y, norm, ("ce", "dlr"), cfg)))
        runs.append(("art-pgd", norm, art_pgd(module, x, y, norm, cfg)))
        runs.append(("redwatch-pgd", norm, ours(module, x, y, norm, ("pgd",), cfg)))
    return runs


def ratios(rows: list[dict]) -> dict[str, float]:
    """Wall-time ratio redwatch / ART per attack, loss and norm."""
    by = {(r["attack"], r["norm"]): r["wall_s"] for r in rows}
    out = {}
    for (name, norm), secs in by.items():
        if name.startswith("redwatch-") and ("art-" + name.removeprefix("redwatch-"), norm) in by:
            out[f"{name.removeprefix('redwatch-')}_L{norm}"] = secs / by[("art-" + name[9:], norm)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 images, 10 steps, one round")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    n, steps = (100, 10) if args.quick else (200, 50)
    cfg = {"steps": steps, "batch_size": 500, "restarts": 1}
    demo = train_mnist_cnn(seed=SEED, threads=THREADS)
    module = demo.model
    ok = np.flatnonzero(predict_labels(module, demo.x_test) == demo.y_test)
    idx = np.random.default_rng(SEED).choice(ok, size=min(n, len(ok)), replace=False)
    x, y = demo.x_test[idx], demo.y_test[idx]
    TorchTarget(module, input_shape=(1, 28, 28)).loss_gradient(x[:64], y[:64])  # warm-up
    rounds = [
        [measure(name, module, x, y, norm, fn) for name, norm, fn in plan(module, x, y, cfg)]
        for _ in range(1 if args.quick else ROUNDS)
    ]
    rows = [
        dict(r, wall_s=float(np.median([rd[i]["wall_s"] for rd in rounds])))
        for i, r in enumerate(rounds[-1])
    ]
    print_table(
        rows, ["attack", "norm", "eps", "robust_accuracy", "max_norm", "wall_s", "model_rows_mean"]
    )
    per_round = [ratios(rd) for rd in rounds]
    ratio = {k: float(np.median([pr[k] for pr in per_round])) for k in per_round[0]}
    print(
        "wall-time ratio redwatch/ART (median over rounds):",
        {k: round(v, 3) for k, v in ratio.items()},
    )
    path = write_json(
        "apgd" + ("_quick" if args.quick else ""),
        {
            "benchmark": "apgd",
            "quick": args.quick,
            "seed": SEED,
            "model": f"demo MNIST CNN (2 conv + 1 linear), held-out accuracy {demo.accuracy():.4f}",
            "samples": len(x),
            "epsilons": EPS,
            "settings": dict(cfg, apgd_initial_step="2*eps", pgd_step="2.5*eps/steps"),
            "torch_threads": THREADS,
            "gradient_source": "redwatch.targets.torch_target.TorchTarget",
            "results": rows,
            "rounds": len(rounds),
            "timing_rule": "each round runs every attack back to back, ART first in each pair; "
            "wall_s is the median over rounds, ratios are medians of per-round ratios",
            "wall_time_ratio_redwatch_over_art": ratio,
            "robust_accuracy_rule": "fraction of the (all correctly classified) samples still "
            "correct after the attack; lower means a stronger attack",
            "machine": machine_info(
                ("numpy", "torch", "adversarial-robustness-toolbox", "redwatch")
            ),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
