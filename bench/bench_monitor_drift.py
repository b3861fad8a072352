"""Monitor drift detectors: false-alarm rate and detection delay, per detector, across seeds
and shift sizes, on ISLR credit default (train / reference / live splits; live windows of
500 rows resampled from the live split). Side by side in the same run: river's ADWIN and
Page-Hinkley on the score stream against our window tests (PSI > 0.2, KS with Bonferroni
p < 0.01 / 3) on the shifted feature (balance + k sd).

    python bench/bench_monitor_drift.py            # -> bench/results/monitor_drift.json
    python bench/bench_monitor_drift.py --quick    # 2 seeds, 2 shift sizes
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from _common import machine_info, print_table, write_json
from redwatch.demo.datasets import load_credit_default
from redwatch.monitor.baseline import build_baseline
from redwatch.monitor.drift import KS, PSI, compare_window
from redwatch.monitor.reference import scores_of
from redwatch.monitor.streams import ADWIN, PAGE_HINKLEY, StreamWatch

WINDOW = 500
NAMES = ["student", "balance", "income"]
DETECTORS = (PSI, KS, ADWIN, PAGE_HINKLEY)


def splits(seed: int) -> dict[str, Any]:
    """Train / reference / live splits and a small XGBoost model for one seed."""
    from xgboost import XGBClassifier

    frame, target = load_credit_default()
    x, y = frame.to_numpy(np.float64), target.to_numpy()
    order = np.random.default_rng(seed).permutation(len(x))
    train, ref, live = order[:3000], order[3000:6500], order[6500:]
    model = XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, random_state=seed)
    model.fit(x[train], y[train])
    return {"ref": x[ref], "live": x[live], "model": model}


def run_seed(
    data: dict[str, Any], seed: int, calm: int, after: int, shift: float
) -> dict[str, Any]:
    """Alarm windows of every detector over `calm` stationary then `after` shifted windows."""
    rng = np.random.default_rng(seed + 1000)
    windows = [data["live"][rng.choice(len(data["live"]), WINDOW)] for _ in range(calm + after)]
    sd = data["ref"][:, 1].std()
    for w in windows[calm:]:
        w[:, 1] += shift * sd
    baseline = build_baseline(data["ref"], NAMES)
    ref_scores = scores_of(data["model"].predict_proba(data["ref"]))
    watch = StreamWatch("score", float(ref_scores.mean()), float(ref_scores.std()))
    alarms: dict[str, set[int]] = {d: set() for d in DETECTORS}
    for n, rows in enumerate(windows):
        report = compare_window(baseline, rows)
        for test in (PSI, KS):
            if report.drifted(test):
                alarms[test].add(n)
        for alarm in watch.update(scores_of(data["model"].predict_proba(rows))):
            alarms[alarm.detector].add(n)
    return {
        d: {
            "false_alarms": sum(1 for n in a if n < calm),
            "delay": min((n - calm for n in a if n >= calm), default=None),
        }
        for d, a in alarms.items()
    }


def main() -> None:
    """Run the grid, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = (0, 1) if args.quick else (0, 1, 2, 3, 4)
    shifts = (0.25, 0.5) if args.quick else (0.1, 0.25, 0.5, 1.0)
    calm, after = (20, 5) if args.quick else (60, 10)
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        data = splits(seed)
        for shift in shifts:
            result = run_seed(data, seed, calm, after, shift)
            for detector, r in result.items():
                rows.append({"seed": seed, "shift_sd": shift, "detector": detector, **r})
    summary = summarise(rows, calm, len(seeds), shifts)
    print_table(summary, ["detector", "shift_sd", "false_alarm_rate", "detected", "mean_delay"])
    payload = {
        "bench": "monitor_drift",
        "quick": args.quick,
        "window": WINDOW,
        "stationary_windows_per_run": calm,
        "shifted_windows_per_run": after,
        "seeds": list(seeds),
        "runs": rows,
        "summary": summary,
        "seconds": round(time.perf_counter() - start, 1),
        "machine": machine_info(("numpy", "scipy", "river", "xgboost")),
    }
    print(write_json("monitor_drift", payload))


def summarise(
    rows: list[dict[str, Any]], calm: int, n_seeds: int, shifts: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Per detector and shift: false alarms per stationary window, detection share, delay."""
    out = []
    for detector in DETECTORS:
        for shift in shifts:
            mine = [r for r in rows if r["detector"] == detector and r["shift_sd"] == shift]
            delays = [r["delay"] for r in mine if r["delay"] is not None]
            out.append(
                {
                    "detector": detector,
                    "shift_sd": shift,
                    "false_alarm_rate": sum(r["false_alarms"] for r in mine) / (calm * n_seeds),
                    "detected": f"{len(delays)}/{len(mine)}",
                    "mean_delay": float(np.mean(delays)) if delays else None,
                }
            )
    return out


if __name__ == "__main__":
    main()
