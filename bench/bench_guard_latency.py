"""Latency the in-process guard adds to one single-row call of the demo credit model.

Run: python bench/bench_guard_latency.py [--calls 5000]   → bench/results/guard_latency.json

Model: train_credit_gbm(seed=0) (XGBoost, 3 features) with InputSpec.from_data(x_train).
Each round calls, in a rotating order, the bare model.predict_proba and GuardedModel
.predict_proba under the default policy and under a fuller one (auth, ratelimit, validate,
sanitize, [detect mahalanobis when that stage exists], watermark, output), on the same
row; rounds are interleaved so that drift (CPU frequency, neighbours) hits all alike. The
added latency is each guarded percentile minus the bare one; the paired differences are
reported as well. Each call is timed on two clocks: wall (what a caller waits, including
time spent waiting for a core on a busy machine) and the thread's CPU time (the work alone).
Goal: wall p99 added < 1 ms for the default policy.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, print_table, write_json
from redwatch.demo.models import train_credit_gbm
from redwatch.guard import GuardedModel, GuardStage, parse_policy
from redwatch.guard.keys import generate_api_key
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.targets.spec import InputSpec

WARMUP = 500
CLOCKS = ("wall", "cpu")
GOAL_P99_ADDED_US = 1000.0
WATERMARK_ENV = "REDWATCH_WATERMARK_KEY"


def stage_table() -> tuple[dict[str, type[GuardStage]], bool]:
    """Built-in stages plus watermark, and detect when its module exists (True then)."""
    from redwatch.guard.stages.watermark import WatermarkStage

    table: dict[str, type[GuardStage]] = dict(BUILTIN_STAGES, watermark=WatermarkStage)
    has_detect = importlib.util.find_spec("redwatch.guard.stages.detect") is not None
    if has_detect:
        from redwatch.guard.stages.detect import DetectStage

        table["detect"] = DetectStage
    return table, has_detect


def full_policy(entry: dict[str, Any], with_detect: bool) -> dict[str, Any]:
    """Every request stage with limits high enough that no benchmark call is refused."""
    stages: list[dict[str, Any]] = [
        {"name": "auth", "options": {"keys": [entry]}},
        {
            "name": "ratelimit",
            "options": {
                "per_key": {"rate": 1e9, "burst": 1e9},
                "global": {"rate": 1e9, "burst": 1e9},
            },
        },
        {"name": "validate", "options": {"spec_check": "event"}},
        {"name": "sanitize"},
    ]
    if with_detect:
        stages.append(
            {"name": "detect", "options": {"detectors": ["mahalanobis"], "action": "event"}}
        )
    stages += [{"name": "watermark"}, {"name": "output", "options": {"decimals": 4}}]
    return {"version": 1, "stages": stages}


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50 / p90 / p99 / mean in microseconds."""
    us = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    return {
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p90_us": round(float(np.percentile(us, 90)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
        "mean_us": round(float(us.mean()), 1),
    }


def measure(
    calls: dict[str, Callable[[np.ndarray], Any]], rows: np.ndarray, n: int
) -> dict[str, dict[str, list[int]]]:
    """Time every call on the same row per round, rotating the order: wall ns (what a
    caller waits) and this thread's CPU ns (the work itself, blind to waiting for a core)."""
    names = list(calls)
    times: dict[str, dict[str, list[int]]] = {m: {name: [] for name in names} for m in CLOCKS}
    for i in range(WARMUP + n):
        row = rows[i % len(rows)][None, :]
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
            calls[name](row)
            wall, cpu = time.perf_counter_ns() - wall, time.thread_time_ns() - cpu
            if i >= WARMUP:
                times["wall"][name].append(wall)
                times["cpu"][name].append(cpu)
    return times


def main() -> None:
    """Build both guards around the credit model, time them against the bare model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="timed calls per variant")
    args = parser.parse_args()
    os.environ.setdefault(WATERMARK_ENV, "bench-only-watermark-key-0123456789")
    demo = train_credit_gbm(seed=0)
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    table, with_detect = stage_table()
    key, entry = generate_api_key("bench", "scores")
    default = GuardedModel(demo.model, None, spec, stages=table).build()
    full = GuardedModel(
        demo.model,
        parse_policy(full_policy(entry, with_detect)),
        spec,
        reference=demo.x_train,
        stages=table,
    ).build()
    calls: dict[str, Callable[[np.ndarray], Any]] = {
        "bare": demo.model.predict_proba,
        "default": default.predict_proba,
        "full": lambda row: full.predict_proba(row, key=key),
    }
    gc.collect()
    times = measure(calls, demo.x_test, args.calls)
    payload = report(times, with_detect, full.policy.stage_names(), args.calls)
    print(write_json("guard_latency", payload))


def summarise(times: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    """Percentiles per variant, and for the guarded ones what they add to the bare call."""
    bare = percentiles(times["bare"])
    out: dict[str, dict[str, float]] = {}
    for name, samples in times.items():
        stats = percentiles(samples)
        if name != "bare":
            paired = (np.asarray(samples) - np.asarray(times["bare"])) / 1000.0
            stats |= {
                "p50_added_us": round(stats["p50_us"] - bare["p50_us"], 1),
                "p99_added_us": round(stats["p99_us"] - bare["p99_us"], 1),
                "paired_p50_us": round(float(np.percentile(paired, 50)), 1),
                "paired_p99_us": round(float(np.percentile(paired, 99)), 1),
            }
        out[name] = stats
    return out


def report(
    times: dict[str, dict[str, list[int]]], with_detect: bool, full_stages: list[str], n: int
) -> dict[str, Any]:
    """Print one table per clock and build the JSON payload."""
    clocks = {clock: summarise(times[clock]) for clock in CLOCKS}
    columns = ["variant", "p50_us", "p99_us", "p50_added_us", "p99_added_us", "paired_p99_us"]
    for clock, variants in clocks.items():
        print(f"{clock} time")
        print_table([{"variant": k, **v} for k, v in variants.items()], columns)
    p99_added = clocks["wall"]["default"]["p99_added_us"]
    print(f"default policy: wall p99 added {p99_added} us (goal < {GOAL_P99_ADDED_US:g} us)")
    return {
        "benchmark": "guard_latency",
        "machine": machine_info(("redwatch", "numpy", "xgboost", "scikit-learn", "pydantic")),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "model": "train_credit_gbm(seed=0), single-row predict_proba",
        "calls": n,
        "warmup": WARMUP,
        "full_policy_stages": full_stages,
        "detect_included": with_detect,
        "goal_p99_added_us": GOAL_P99_ADDED_US,
        "default_meets_goal": bool(p99_added < GOAL_P99_ADDED_US),
        "wall": clocks["wall"],
        "cpu": clocks["cpu"],
    }


if __name__ == "__main__":
    main()
