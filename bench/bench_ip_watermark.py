"""Trigger-set watermark: does the proof hold, does it stay silent on innocent models, and
does it survive what a thief does to a stolen model? (issue 9, deliverables 2, 3 and 6)

Two demo models — the MNIST CNN (torch, image triggers) and the credit XGBoost (table
triggers) — are watermarked with redwatch.ip.embed (100 key-derived triggers, labelled away
from the clean model's answers), committed with the null rate of 5 reference models
(the CLI's defaults), and verified with redwatch.ip.verify.verify_ownership, which queries the
suspect through its Target. Reported per model:
(a) the watermarked model's agreement and p-value, and its clean-accuracy loss on the demo's
    held-out rows (goal p < 1e-6 and a loss of at most 0.5 %);
(b) p-values of 10 independently trained models of the same recipe (other seeds, bootstrap
    resamples; not the references behind the null) — goal 0 false claims (all p > 0.01);
(c) retention: CNN fine-tuned 10 epochs on clean training rows (Adam at 1e-3 and at the demo
    recipe's training rate 2e-3, both scored; at 5e-3, above the embedding's 4e-3, reported
    as a stress row and not scored), CNN magnitude-pruned
    (global L1, 20/50/80 % of conv and linear weights), XGBoost boosted 100 more rounds on
    clean rows, and extraction: a surrogate of the same recipe trained on the watermarked
    model's labels for the training rows (natural queries) and, for the table model,
    for uniform queries in the data's box (synthetic queries).

    python bench/bench_ip_watermark.py    # -> bench/results/ip_watermark.json
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from torch.nn.utils import prune

from _common import machine_info, print_table, write_json
from redwatch.demo.models import DemoModel, train_credit_gbm, train_mnist_cnn
from redwatch.ip.commitment import build_commitment, reference_null
from redwatch.ip.embed import EmbedResult, embed_watermark
from redwatch.ip.recipe import fit_like, fit_torch, independent_models, predict_labels
from redwatch.ip.triggers import TriggerSet, derive_triggers
from redwatch.ip.verify import verify_ownership
from redwatch.targets.detect import from_object

KEY = b"redwatch-bench-ip-watermark-owner-key-v1"
SEED = 0
N_TRIGGERS = 100
REFERENCES = 5
REFERENCE_EPOCHS = 5  # the CLI's --reference-epochs default
INDEPENDENT = 10
INDEPENDENT_SEED = 1000  # seeds 1001..1010: disjoint from the references' 1..5
ALPHA = 1e-6
FALSE_CLAIM_P = 0.01
MAX_LOSS = 0.005
FINE_TUNE_EPOCHS = 10
FINE_TUNE_LRS = (1e-3, 2e-3)  # scored: half the demo recipe's training rate, and that rate
STRESS_LR = 5e-3  # reported only: above the embedding's own rate (redwatch.ip.embed.TORCH_LR)
STRESS = "stress, not scored"
PRUNE_AMOUNTS = (0.2, 0.5, 0.8)
EXTRA_ROUNDS = 100
SURROGATE_EPOCHS = 6


@dataclass
class Case:
    """One demo model, its trigger kind and its training recipe's epochs (torch)."""

    name: str
    demo: DemoModel
    kind: str
    epochs: int
    n_classes: int


@dataclass
class Marked:
    """The watermarked model, its triggers and the signed commitment."""

    model: Any
    triggers: TriggerSet
    commitment: dict[str, Any]
    embed: EmbedResult


def triggers_for(case: Case) -> TriggerSet:
    """The key's triggers for this model, labelled away from the clean model's answers."""
    x = case.demo.x_train
    common: dict[str, Any] = {"kind": case.kind, "n_features": x.shape[1]}
    common.update(n_classes=case.n_classes, n=N_TRIGGERS)
    if case.kind == "image":
        common.update(lower=float(x.min()), upper=float(x.max()))
    else:
        common["reference"] = x
    first = derive_triggers(KEY, **common)
    source = predict_labels(case.demo.model, first.inputs)
    return derive_triggers(KEY, source_labels=source, **common)


def watermark(case: Case) -> Marked:
    """Embed, measure the null on 5 references, and sign the commitment."""
    demo, triggers = case.demo, triggers_for(case)
    result = embed_watermark(demo.model, demo.x_train, demo.y_train, triggers, seed=SEED)
    null = reference_null(
        demo.model, demo.x_train, demo.y_train, triggers,
        n=REFERENCES, seed=SEED, epochs=REFERENCE_EPOCHS,
    )  # fmt: skip
    commitment = build_commitment(
        key=KEY,
        triggers=triggers,
        model={"source": f"{case.name}-marked", "sha256": None, "kind": case.kind,
               "classes": list(range(case.n_classes))},
        null=null,
        clean_accuracy={"before": result.clean_before, "after": result.clean_after},
    )  # fmt: skip
    return Marked(result.model, triggers, commitment, result)


def accuracy(model: Any, demo: DemoModel) -> float:
    """Clean accuracy on the demo's held-out rows (never used for training here)."""
    return float(np.mean(predict_labels(model, demo.x_test) == demo.y_test))


def verdict(case: Case, marked: Marked, model: Any, what: str) -> dict[str, Any]:
    """Verify one suspect model and describe it as a table row."""
    result = verify_ownership(from_object(model, name=what), marked.commitment, KEY, alpha=ALPHA)
    return {
        "model": case.name,
        "suspect": what,
        "agreement": round(result.test.agreement, 3),
        "p_value": result.test.p_value,
        "shown": result.shown,
        "clean_accuracy": round(accuracy(model, case.demo), 4),
    }


def independents(case: Case, marked: Marked) -> list[dict[str, Any]]:
    """Ten innocent models of the same recipe, each verified against the commitment."""
    demo = case.demo
    models = independent_models(
        demo.model, demo.x_train, demo.y_train,
        n=INDEPENDENT, seed=INDEPENDENT_SEED, epochs=case.epochs,
    )  # fmt: skip
    return [verdict(case, marked, m, f"independent-{i}") for i, m in enumerate(models, 1)]


def fine_tuned(case: Case, marked: Marked, lr: float) -> Any:
    """The watermarked CNN trained 10 more epochs (Adam at `lr`) on clean training rows."""
    net = copy.deepcopy(marked.model)
    demo = case.demo
    return fit_torch(
        net, demo.x_train, demo.y_train,
        epochs=FINE_TUNE_EPOCHS, seed=SEED + 7, lr=lr,
    )  # fmt: skip


def pruned(marked: Marked, amount: float) -> Any:
    """The watermarked CNN with the smallest `amount` of its conv/linear weights zeroed."""
    net = copy.deepcopy(marked.model)
    layers = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    params = [(m, "weight") for m in layers]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in params:
        prune.remove(module, name)
    return net.eval()


def boosted_more(case: Case, marked: Marked) -> Any:
    """The watermarked XGBoost with 100 more boosting rounds on clean training rows."""
    model = copy.deepcopy(marked.model)
    model.set_params(n_estimators=EXTRA_ROUNDS)
    demo = case.demo
    return model.fit(demo.x_train, demo.y_train, xgb_model=marked.model.get_booster())


def extracted(case: Case, marked: Marked, queries: np.ndarray) -> Any:
    """A surrogate of the owner's recipe trained on the watermarked model's labels."""
    labels = from_object(marked.model, name="api").predict(queries)
    return fit_like(case.demo.model, queries, labels, seed=SEED + 3, epochs=SURROGATE_EPOCHS)


def box_queries(case: Case, n: int) -> np.ndarray:
    """Uniform queries in the training data's box (binary columns kept binary)."""
    x = case.demo.x_train
    rng = np.random.default_rng(SEED + 5)
    lo, hi = x.min(axis=0), x.max(axis=0)
    rows = lo + rng.random((n, x.shape[1])) * (hi - lo)
    integer = np.all(x == np.round(x), axis=0)
    rows[:, integer] = np.round(rows[:, integer])
    return rows


def attacks(case: Case, marked: Marked) -> dict[str, Callable[[], Any]]:
    """The transformations a thief may apply, by name (lazily built)."""
    natural = case.demo.x_train
    out: dict[str, Callable[[], Any]] = {}
    if case.kind == "image":
        for lr in FINE_TUNE_LRS:
            name = f"fine-tune {FINE_TUNE_EPOCHS} epochs lr {lr:g}"
            out[name] = lambda r=lr: fine_tuned(case, marked, r)  # type: ignore[misc]
        stress = f"fine-tune {FINE_TUNE_EPOCHS} epochs lr {STRESS_LR:g} ({STRESS})"
        out[stress] = lambda: fine_tuned(case, marked, STRESS_LR)
        for amount in PRUNE_AMOUNTS:
            out[f"prune {amount:.0%}"] = lambda a=amount: pruned(marked, a)  # type: ignore[misc]
    else:
        out[f"boost +{EXTRA_ROUNDS} rounds"] = lambda: boosted_more(case, marked)
        out["extract (synthetic box queries)"] = lambda: extracted(
            case, marked, box_queries(case, len(natural))
        )
    out["extract (natural queries)"] = lambda: extracted(case, marked, natural)
    return out


def run_case(case: Case) -> dict[str, Any]:
    """Every measurement for one demo model."""
    started = time.perf_counter()
    marked = watermark(case)
    before, after = accuracy(case.demo.model, case.demo), accuracy(marked.model, case.demo)
    own = verdict(case, marked, marked.model, "watermarked")
    innocent = independents(case, marked)
    retained = [verdict(case, marked, make(), name) for name, make in attacks(case, marked).items()]
    null = marked.commitment["null"]
    return {
        "clean_accuracy_before": round(before, 4),
        "clean_accuracy_after": round(after, 4),
        "clean_accuracy_loss": round(before - after, 4),
        "embed_holdout": {
            "before": marked.embed.clean_before,
            "after": marked.embed.clean_after,
            "settings": marked.embed.settings,
        },
        "null_rate": null["rate"],
        "reference_agreements": [r["agreed"] for r in null["references"]],
        "watermarked": own,
        "independent": innocent,
        "false_claims": sum(1 for r in innocent if r["p_value"] <= FALSE_CLAIM_P),
        "retention": retained,
        "seconds": round(time.perf_counter() - started, 1),
    }


def goals(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's goals, per model; retention is reported, not scored, except fine-tuning."""
    met: dict[str, bool] = {}
    for name, doc in cases.items():
        met[f"{name}/p_below_1e-6"] = doc["watermarked"]["p_value"] < ALPHA
        met[f"{name}/loss_at_most_0.5pct"] = doc["clean_accuracy_loss"] <= MAX_LOSS
        met[f"{name}/zero_false_claims"] = doc["false_claims"] == 0
        for row in doc["retention"]:
            if row["suspect"].startswith("fine-tune") and STRESS not in row["suspect"]:
                met[f"{name}/retained_after_{row['suspect']}"] = row["p_value"] < ALPHA
    return {"all_met": all(met.values()), "goals": met}


def cases() -> list[Case]:
    """The two demo models of the issue's benchmark."""
    cnn = train_mnist_cnn(seed=SEED, threads=1)
    gbm = train_credit_gbm(seed=SEED)
    return [Case("mnist_cnn", cnn, "image", 6, 10), Case("credit_xgboost", gbm, "table", 5, 2)]


def main() -> None:
    """Run both models and write bench/results/ip_watermark.json."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    results = {case.name: run_case(case) for case in cases()}
    payload = {
        "benchmark": "ip_watermark",
        "settings": {
            "triggers": N_TRIGGERS, "references": REFERENCES, "independent": INDEPENDENT,
            "alpha": ALPHA, "false_claim_p": FALSE_CLAIM_P, "seed": SEED,
            "fine_tune": {"epochs": FINE_TUNE_EPOCHS, "lr": list(FINE_TUNE_LRS),
                          "stress_lr": STRESS_LR},
            "prune_amounts": list(PRUNE_AMOUNTS), "surrogate_epochs": SURROGATE_EPOCHS,
        },
        "cases": results,
        "summary": goals(results),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info(("numpy", "torch", "scikit-learn", "xgboost")),
    }  # fmt: skip
    path = write_json("ip_watermark", payload)
    print_table(_rows(results), ["model", "suspect", "agreement", "p_value", "clean_accuracy"])
    for name, doc in results.items():
        p_max = min(r["p_value"] for r in doc["independent"])
        print(
            f"{name}: null {doc['null_rate']:.3g}, clean loss {doc['clean_accuracy_loss']:+.2%}, "
            f"false claims {doc['false_claims']}/{INDEPENDENT} (smallest innocent p {p_max:.3g})"
        )
    print(f"goals met: {payload['summary']['all_met']}  ({path})")


def _rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The table: the watermarked model, the most agreeable innocent model, retention."""
    rows = []
    for doc in results.values():
        worst = min(doc["independent"], key=lambda r: r["p_value"])
        rows += [doc["watermarked"], {**worst, "suspect": f"innocent (min p of {INDEPENDENT})"}]
        rows += doc["retention"]
    return rows


if __name__ == "__main__":
    main()
