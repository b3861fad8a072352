"""README rows for the runtime guard benchmarks (bench_guard_*.py); table.py includes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ATTACKS = (("pgd_linf", "PGD L∞"), ("square_linf", "Square L∞"), ("hopskipjump_l2", "HSJ L2"))


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8")))


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def latency_rows() -> list[str]:
    """Added latency of the in-process guard (single row, CPU time and wall time)."""
    doc = _load("guard_latency")
    rows = [
        "| in-process guard, credit XGBoost, one row | p50 added | p99 added, CPU time "
        "| p99 added, wall (goal < 1 ms) |",
        "|---|---|---|---|",
    ]
    for policy in ("default", "full"):
        cpu, wall = doc["cpu"][policy], doc["wall"][policy]
        label = "default policy" if policy == "default" else "full policy (7 stages)"
        rows.append(
            f"| {label} | {cpu['p50_added_us'] / 1000:.2f} ms "
            f"| {cpu['p99_added_us'] / 1000:.2f} ms "
            f"| {wall['p99_added_us'] / 1000:.2f} ms: {_met(wall['p99_added_us'] < 1000)} |"
        )
    return rows


def proxy_rows() -> list[str]:
    """Reverse proxy and model server against the direct upstream under wrk."""
    doc = _load("guard_proxy")
    rows = [
        "| HTTP guard vs direct upstream (uvicorn, wrk, one row per call) "
        "| throughput ratio (goal ≥ 0.8) | CPU capacity ratio | p99 added, one connection "
        "(goal < 5 ms) |",
        "|---|---|---|---|",
    ]
    labels = {"proxy": "reverse proxy, default policy", "model": "--model (no hop)"}
    for key, label in labels.items():
        case = doc["comparison"][key]
        ratio, p99 = case["throughput_ratio"], case["added_p99_ms_unloaded"]
        rows.append(
            f"| {label} | {ratio:.2f}: {_met(ratio >= 0.8)} | {case['cpu_capacity_ratio']:.2f} "
            f"| {p99:.1f} ms: {_met(p99 < 5.0)} |"
        )
    return rows


def detection_rows() -> list[str]:
    """TPR at 1% FPR per attack for the best single detector and the combined stage."""
    doc = _load("guard_detection")
    rows = [
        "| input detector · model | TPR at 1% FPR: "
        + " / ".join(name for _, name in ATTACKS)
        + " | FPR measured on held-out clean rows |",
        "|---|---|---|",
    ]
    models = {"digits_logreg": "digits logistic regression", "mnist_cnn": "MNIST CNN"}
    for key, model in models.items():
        case = doc["cases"][key]
        picks = [
            ("mahalanobis", case["detectors"]["mahalanobis"]),
            ("squeeze (tuned)", case["detectors"]["squeeze_tuned"]),
            ("combined `detect` stage", case["combined"]),
        ]
        for label, result in picks:
            tprs = " / ".join(f"{result['attacks'][a]['tpr']:.2f}" for a, _ in ATTACKS)
            rows.append(f"| {label} · {model} | {tprs} | {result['fpr_measured']:.1%} |")
    return rows


def extraction_rows() -> list[str]:
    """Queries until extraction traffic is flagged, and false alarms on benign traffic."""
    doc = _load("guard_extraction")
    rows = [
        "| extraction detection · model | benign: false alarms / queries (20 clients) "
        "| Knockoff flagged at (1 key / 20 keys) | Jacobian flagged at, worst of 5 seeds "
        "(1 key / 20 keys) | goal (≤ 200 queries, 0 false alarms) |",
        "|---|---|---|---|---|",
    ]
    for case, benign in doc["benign"].items():
        found = [a for a in doc["attacks"] if a["case"] == case and a["variant"] == "both"]

        knock = (_worst(found, "knockoff", 1), _worst(found, "knockoff", 20))
        jac = (_worst(found, "jacobian", 1), _worst(found, "jacobian", 20))
        met = doc["summary"]["all_met"]
        rows.append(
            f"| {case} | {benign['false_alarms']} / {benign['queries']:,} "
            f"| {_q(knock[0])} / {_q(knock[1])} | {_q(jac[0])} / {_q(jac[1])} | {_met(met)} |"
        )
    return rows


def _worst(found: list[dict[str, Any]], prefix: str, keys: int) -> int | None:
    """The latest query at which traffic of this kind over `keys` keys was flagged; None
    when some run was never flagged."""
    hits = [a["flagged_at"] for a in found if a["traffic"].startswith(prefix) and a["keys"] == keys]
    return None if not hits or None in hits else max(hits)


def _q(value: int | None) -> str:
    return "not flagged" if value is None else str(value)


def query_rows() -> list[str]:
    """Query-based evasion attacks seen by the extraction stage as one client."""
    doc = _load("guard_queries")
    rows = [
        "| evasion attack traffic (digits, one client) | flagged at query (both signals "
        "/ PRADA alone) |",
        "|---|---|",
    ]
    attacks = sorted({r["attack"] for r in doc["results"]})
    for attack in attacks:
        by = {r["variant"]: r for r in doc["results"] if r["attack"] == attack}
        rows.append(
            f"| {attack} | {_q(by['both']['flagged_at'])} / {_q(by['prada_only']['flagged_at'])} |"
        )
    return rows


def guard_rows() -> list[str]:
    """Every guard table, separated by blank lines."""
    out: list[str] = []
    for block in (latency_rows, proxy_rows, detection_rows, extraction_rows, query_rows):
        out.extend([*block(), ""])
    return out[:-1]
