"""Render bench/results/*.json as the Markdown table the README shows.

Run: python bench/table.py   (prints the table; tests check the README carries it verbatim)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8")))


def _by_attack(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["attack"]: r for r in doc["results"]}


def _pick(doc: dict[str, Any], attack: str, budget: int) -> dict[str, Any]:
    return next(r for r in doc["results"] if r["attack"] == attack and r["budget"] == budget)


def attack_rows() -> list[str]:
    """One row per peer comparison: success, size, wall time, ratio, goal."""
    hsj = _load("hopskipjump")
    h = _by_attack(hsj)
    pgd = _load("pgd")
    p = _by_attack(pgd)
    hsj_ratio = hsj["wall_time_ratio_redwatch_over_art"]
    hsj_met = hsj_ratio <= 0.1 and h["redwatch"]["success_rate"] >= h["art"]["success_rate"]
    pgd_ratio = pgd["wall_time_ratio_redwatch_over_art"]
    sq = _load("square")
    sq_rows = []
    ratios = sq["wall_time_ratio_redwatch_over_art"]
    for budget in sorted(ratios, key=int):
        ours, art = (_pick(sq, who, int(budget)) for who in ("redwatch", "art"))
        met = "met" if ours["success_rate"] >= art["success_rate"] else "not met"
        sq_rows.append(
            f"| Square L∞ ε={sq['eps']}, MNIST CNN, {sq['samples']} images, {budget} "
            f"queries/image | ART 1.20.1 `SquareAttack` | {ours['success_rate']:.2f} / "
            f"{art['success_rate']:.2f} | — | {ours['wall_s']:.1f} s / {art['wall_s']:.1f} s "
            f"| {ratios[budget]:.2f} | ≥ peer's success: {met} |"
        )
    return [
        "| benchmark | peer | success (ours / peer) | median L2 (ours / peer) "
        "| wall time (ours / peer) | ratio | goal |",
        "|---|---|---|---|---|---|---|",
        f"| HopSkipJump L2, credit XGBoost, {hsj['samples']} samples, "
        f"{hsj['redwatch_max_queries']:,} queries/sample "
        f"| ART 1.20.1 `HopSkipJump` | {h['redwatch']['success_rate']:.2f} / "
        f"{h['art']['success_rate']:.2f} | {h['redwatch']['median_l2']:.3f} / "
        f"{h['art']['median_l2']:.3f} | {h['redwatch']['wall_s']:.1f} s / "
        f"{h['art']['wall_s']:.1f} s | {hsj_ratio:.3f} | ≤ 0.1 at equal success: "
        f"{'met' if hsj_met else 'not met'} |",
        f"| PGD L∞ ε={pgd['settings']['eps']}, {pgd['settings']['steps']} steps, MNIST CNN, "
        f"{pgd['samples']} images | ART 1.20.1 `ProjectedGradientDescentPyTorch` "
        f"| {p['redwatch']['success_rate']:.3f} / {p['art']['success_rate']:.3f} | — "
        f"| {p['redwatch']['wall_s']:.1f} s / {p['art']['wall_s']:.1f} s | {pgd_ratio:.2f} "
        f"| ≤ 1.0: {'met' if pgd_ratio <= 1.0 else 'not met'} |",
        *sq_rows,
    ]


def demo_rows() -> list[str]:
    """Wall time and queries of each demo campaign."""
    demo = _load("demo")
    rows = [
        "| demo campaign | wall time (incl. training) | probe time | queries | findings |",
        "|---|---|---|---|---|",
    ]
    for c in demo["campaigns"]:
        found = ", ".join(f"{n} {k}" for k, n in c["findings"].items() if n) or "none"
        rows.append(
            f"| {c['target']} | {c['wall_s']:.1f} s | {c['probe_s']:.1f} s "
            f"| {c['queries']:,} | {found} |"
        )
    rows.append(f"| **all three** | {demo['total_wall_s']:.1f} s | | | |")
    return rows


def integrity_rows() -> list[str]:
    """Artifact scanning: detection, false positives and throughput per tool on the corpus."""
    doc = _load("integrity")
    corpus = doc["corpus"]
    rows = [
        f"| artifact scan, corpus of {corpus['malicious']} malicious + {corpus['benign']} benign "
        "files | detection | false positives | MB/s |",
        "|---|---|---|---|",
    ]
    for t in doc["tools"]:
        rows.append(
            f"| {t['tool']} | {t['detection_rate']:.0%} | {t['false_positive_rate']:.0%} "
            f"| {t['mb_per_s']:.2f} |"
        )
    return rows


def table() -> str:
    """Both tables with the commands that reproduce them."""
    return "\n".join(
        [
            "Measured on one 2-core machine; times within a row come from the same run.",
            "Reproduce with `make bench` (runs `bench/bench_hopskipjump.py`, `bench_pgd.py`,",
            "`bench_square.py`, `bench_demo.py` and `bench_integrity.py`, then `bench/table.py`).",
            "",
            *attack_rows(),
            "",
            *demo_rows(),
            "",
            *integrity_rows(),
        ]
    )


if __name__ == "__main__":
    print(table())
