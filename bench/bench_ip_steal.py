"""Stealability curves of the demo models, with and without output hardening.

For each demo model one set of queries is answered once with probabilities; surrogates are
trained at checkpoints on what a client would have seen under each output mode: full
probabilities, top-1 label only, scores rounded to 1 decimal, and the guard's reverse-sigmoid
perturbation (beta 0.5). Fidelity (agreement with the model) and accuracy are measured on
held-out rows the queries never touch. Surrogates use the probes' default learner (`auto`:
a small generic CNN for image models, a scikit-learn MLP for tables); the MNIST CNN case is
also run with the MLP, the learner the probes used before, for comparison.

- credit XGBoost (ISLR Default): Knockoff with 1,000 own-domain held-out rows, and 2,000
  synthetic rows sampled inside the InputSpec (no data at all);
- digits logistic regression (8x8 images): Knockoff with 2,000 rows of MNIST reduced to 8x8;
- MNIST CNN: Knockoff with 1,500 scikit-learn digits upscaled to 28x28 (two checkpoints),
  with the CNN learner and with the MLP learner,
  and ART 1.20.1's KnockoffNets (random strategy, a fresh copy of the CNN as the thief,
  top-1 labels: ART reduces the labels for a cross-entropy thief) on the same 1,500 queries.

    python bench/bench_ip_steal.py    # -> bench/results/ip_steal.json
"""

from __future__ import annotations

import os
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from _common import machine_info, print_table, write_json
from redwatch.attacks.extraction import knockoff_queries, resize_images
from redwatch.demo.datasets import load_digits_01, load_mnist_8x8
from redwatch.demo.models import (
    predict_labels,
    train_credit_gbm,
    train_digits_logreg,
    train_mnist_cnn,
)
from redwatch.guard.stages.output import OutputOptions, OutputStage
from redwatch.ip.stealability import HeldOut, Stealability, checkpoints, steal_curves
from redwatch.ip.surrogate import AnswerTransform, output_modes
from redwatch.probes.extraction.synthetic import sample_within
from redwatch.targets.spec import InputSpec

SEED = 0
BETA = 0.5


def modes() -> dict[str, AnswerTransform]:
    """The three probe modes plus the guard's reverse sigmoid (labels kept)."""
    stage = OutputStage(OutputOptions(decimals=None, reverse_sigmoid_beta=BETA))
    return {**output_modes(1), "reverse_sigmoid": stage.harden}


def proba_of(model: Any, x: np.ndarray) -> np.ndarray:
    """Probabilities of an sklearn-API model or a torch module returning logits."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(x), dtype=np.float64)
    import torch

    with torch.no_grad():
        logits = model(torch.as_tensor(x, dtype=torch.float32))
    return np.asarray(torch.softmax(logits, dim=1).numpy(), dtype=np.float64)


def curve_rows(case: str, strategy: str, result: Stealability) -> list[dict[str, Any]]:
    """Table rows: one per mode and checkpoint."""
    return [
        {
            "model": case,
            "strategy": strategy,
            "learner": result.learner,
            "mode": c.mode,
            "queries": p.queries,
            "fidelity": p.fidelity,
            "balanced_fidelity": p.balanced_fidelity,
            "accuracy": p.accuracy,
        }
        for c in result.curves
        for p in c.points
    ]


def run_case(
    model: Any,
    queries: np.ndarray,
    held: HeldOut,
    fractions: tuple[float, ...],
    image_shape: tuple[int, ...] | None = None,
    learner: str = "auto",
) -> tuple[Stealability, float]:
    """Answer the queries once and measure every mode; (result, seconds)."""
    t0 = time.perf_counter()
    result = steal_curves(
        queries,
        proba_of(model, queries),
        held,
        modes=modes(),
        sizes=checkpoints(len(queries), fractions),
        learner=learner,
        image_shape=image_shape,
        seed=SEED,
    )
    return result, time.perf_counter() - t0


def held_out(model: Any, x: np.ndarray, y: np.ndarray) -> HeldOut:
    """Held-out rows labelled by the model."""
    return HeldOut(x, predict_labels(model, x), y)


def art_knockoff(cnn: Any, queries: np.ndarray, held: HeldOut) -> dict[str, Any]:
    """ART KnockoffNets (random) with a fresh MnistCNN thief on the same queries."""
    import torch
    from art.attacks.extraction import KnockoffNets
    from art.estimators.classification import PyTorchClassifier

    from redwatch.demo.mnist_net import MnistCNN

    def wrap(net: Any) -> PyTorchClassifier:
        return PyTorchClassifier(
            model=net,
            loss=torch.nn.CrossEntropyLoss(),
            optimizer=torch.optim.Adam(net.parameters(), lr=2e-3),
            input_shape=(784,),
            nb_classes=10,
            clip_values=(0.0, 1.0),
        )

    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    attack = KnockoffNets(
        classifier=wrap(cnn),
        batch_size_fit=64,
        batch_size_query=256,
        nb_epochs=10,
        nb_stolen=len(queries),
        sampling_strategy="random",
        use_probability=False,
        verbose=False,
    )
    thief = attack.extract(x=queries.astype(np.float32), thieved_classifier=wrap(MnistCNN()))
    pred = np.asarray(thief.predict(held.x.astype(np.float32))).argmax(axis=1)
    seconds = time.perf_counter() - t0
    assert held.true_labels is not None
    return {
        "model": "mnist_cnn",
        "strategy": "art_knockoffnets",
        "learner": "art_mnist_cnn",
        "mode": "label",
        "queries": len(queries),
        "fidelity": float(np.mean(pred == held.target_labels)),
        "balanced_fidelity": None,
        "accuracy": float(np.mean(pred == held.true_labels)),
        "seconds": seconds,
    }


def main() -> None:
    """Run every case, print the table, write the JSON."""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    credit = train_credit_gbm(seed=SEED)
    held = held_out(credit.model, credit.x_test[:1000], credit.y_test[:1000])
    for name, queries in (
        ("knockoff", knockoff_queries(credit.x_test[1000:], 1000, rng=rng)),
        ("synthetic", sample_within(InputSpec.from_data(credit.x_train), 2000, rng)),
    ):
        result, seconds[f"credit_{name}"] = run_case(
            credit.model, queries, held, (0.1, 0.25, 0.5, 1)
        )
        rows += curve_rows("credit_xgb", name, result)
        results[f"credit_xgb/{name}"] = result.to_dict()

    digits = train_digits_logreg(seed=SEED)
    held = held_out(digits.model, digits.x_test, digits.y_test)
    queries = knockoff_queries(load_mnist_8x8(), 2000, rng=rng)
    result, seconds["digits_knockoff"] = run_case(
        digits.model, queries, held, (0.1, 0.25, 0.5, 1), (1, 8, 8)
    )
    rows += curve_rows("digits_logreg", "knockoff", result)
    results["digits_logreg/knockoff"] = result.to_dict()

    cnn = train_mnist_cnn(seed=SEED, threads=1)
    held = held_out(cnn.model, cnn.x_test, cnn.y_test)
    transfer = resize_images(load_digits_01()[0], (8, 8), (28, 28))
    queries = knockoff_queries(transfer, 1500, rng=rng)
    for strategy, learner in (("knockoff", "auto"), ("knockoff_mlp", "mlp")):
        result, seconds[f"cnn_{strategy}"] = run_case(
            cnn.model, queries, held, (0.25, 1), (1, 28, 28), learner
        )
        rows += curve_rows("mnist_cnn", strategy, result)
        results[f"mnist_cnn/{strategy}"] = result.to_dict()
    art = art_knockoff(cnn.model, queries, held)
    seconds["cnn_art_knockoffnets"] = art.pop("seconds")
    rows.append(art)

    columns = ["model", "strategy", "learner", "mode", "queries", "fidelity"]
    print_table(rows, [*columns, "balanced_fidelity", "accuracy"])
    payload = {
        "machine": machine_info(
            ("scikit-learn", "torch", "xgboost", "adversarial-robustness-toolbox")
        ),
        "seed": SEED,
        "reverse_sigmoid_beta": BETA,
        "rows": rows,
        "results": results,
        "seconds": seconds,
    }
    print(f"wrote {write_json('ip_steal', payload)}")


if __name__ == "__main__":
    main()
