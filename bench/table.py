"""Render bench/results/*.json as the Markdown table the README shows.

Run: python bench/table.py   (prints the table; tests check the README carries it verbatim)
"""

from __future__ import annotations

from typing import Any

from _common import load_result, met
from table_data import data_rows
from table_ip import ip_rows
from table_llm import llm_detector_rows, llm_guard_rows, llm_probe_rows
from table_privacy import privacy_rank_rows, privacy_rows
from table_service import monitor_rows, service_rows


def _num(value: float | None, fmt: str = ".2f") -> str:
    """A number, or "not reached" where a tool never got there."""
    return "not reached" if value is None else format(value, fmt)


def blackbox_rows() -> list[str]:
    """Decision- and score-based attacks against ART: queries to reach ART's success within
    ε, and wall time at equal queries."""
    rows = [
        "| black-box attack · model · ε | ART success within ε | queries/sample to reach it "
        "(ours / ART) | ratio (goal ≤ 0.5) | wall time at equal queries (ours / ART) "
        "| ratio (goal ≤ 0.1) |",
        "|---|---|---|---|---|---|",
    ]
    for bench, label in (("hopskipjump", "HopSkipJump L2"), ("signopt", "Sign-OPT L2")):
        doc = load_result(bench)
        for case in doc["cases"].values():
            ours_q, q = case["redwatch_queries_to_art_success"], case["queries_ratio_ours_over_art"]
            ours_t = case["redwatch_minimal_norm_at_art_queries"]["wall_s"]
            w = case["wall_time_ratio_redwatch_over_art"]
            rows.append(
                f"| {label} · {_short(case['model'])} · ε={case['eps_l2']:g} "
                f"| {case['art_success_rate']:.2f} "
                f"| {_num(ours_q, ',')} / {case['art']['queries_per_sample_mean']:,.0f} "
                f"| {_num(q)}: {met(q is not None and q <= 0.5)} "
                f"| {ours_t:.1f} s / {case['art']['wall_s']:.1f} s | {w:.2f}: {met(w <= 0.1)} |"
            )
    sq = load_result("square")
    for case in sq["cases"].values():
        top = max(sq["budgets"])
        art = next(r for r in case["art"] if r["budget"] == top)
        budget = case["redwatch_budget_to_art_success"]
        ours = next((r for r in case["redwatch"] if r["budget"] == budget), None)
        same = next(r for r in case["redwatch"] if r["budget"] == top)
        q, w = case["queries_ratio_ours_over_art"], case["wall_time_ratio_redwatch_over_art"]
        rows.append(
            f"| Square L∞ · {_short(case['model'])} · ε={case['eps_linf']:g} "
            f"| {case['art_success_rate']:.2f} "
            f"| {_num(None if ours is None else ours['queries_per_image_mean'], ',.0f')} / "
            f"{art['queries_per_image_mean']:,.0f} | {_num(q)}: {met(q is not None and q <= 0.5)} "
            f"| {same['wall_s']:.1f} s / {art['wall_s']:.1f} s (budget {top}) "
            f"| {w:.2f}: {met(w <= 0.1)} |"
        )
    return rows


def _short(model: str) -> str:
    """Model description up to its first parenthesis or comma."""
    return model.split(" (")[0].split(",")[0].removeprefix("demo ")


def whitebox_rows() -> list[str]:
    """APGD and PGD against ART on the demo CNN: robust accuracy (lower is stronger) and time."""
    doc = load_result("apgd")
    by = {(r["attack"], r["norm"]): r for r in doc["results"]}
    steps = doc["settings"]["steps"]
    rows = [
        f"| white-box attack, MNIST CNN, {doc['samples']} images, {steps} steps "
        "| robust accuracy (ours / ART, lower is stronger) | wall time (ours / ART) | ratio |",
        "|---|---|---|---|",
    ]
    labels = {"apgd-ce": "APGD-CE", "apgd-dlr": "APGD-DLR", "pgd": "PGD"}
    for norm in ("inf", "2"):
        eps = doc["epsilons"][norm]
        for key, label in labels.items():
            ours, art = by[(f"redwatch-{key}", norm)], by[(f"art-{key}", norm)]
            ratio = doc["wall_time_ratio_redwatch_over_art"][f"{key}_L{norm}"]
            rows.append(
                f"| {label} L{'∞' if norm == 'inf' else '2'} ε={eps:g} "
                f"| {ours['robust_accuracy']:.3f} / {art['robust_accuracy']:.3f} "
                f"| {ours['wall_s']:.1f} s / {art['wall_s']:.1f} s | {ratio:.2f} |"
            )
    return rows


def tree_rows() -> list[str]:
    """Tree attacks against ART DecisionTreeAttack and ZOO: success, size and time."""
    doc = load_result("trees")
    eps = doc["settings"]["eps"]
    rows = [
        f"| tree model | attack | success | within ε={eps:g} | median L∞ | time |",
        "|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        rows.append(
            f"| {r['model']} | {r['attack']} | {r['success_rate']:.2f} "
            f"| {r[f'success_within_{eps:g}']:.2f} | {r['median_linf']:.3f} "
            f"| {r['seconds']:.2f} s |"
        )
    return rows


def harden_rows() -> list[str]:
    """Hardening the demo CNN and the credit model: clean and robust accuracy before/after."""
    doc = load_result("harden")
    demo_eps = doc["settings"]["demo_epsilon"]
    epsilons = doc["settings"]["epsilons"]
    head = " | ".join(f"robust acc. ε={e:g}" for e in epsilons)
    rows = [
        f"| hardening the demo CNN | clean accuracy | {head} | training |",
        "|---|---|" + "---|" * len(epsilons) + "---|",
    ]
    for r in doc["mnist_cnn"]:
        cells = " | ".join(f"{r[f'robust_accuracy_eps_{e:g}']:.3f}" for e in epsilons)
        epochs = f", {r['epochs']} epochs" if "epochs" in r else ""
        rows.append(
            f"| {r['method']}{epochs} | {r['clean_accuracy']:.3f} | {cells} "
            f"| {r['train_seconds']:.0f} s |"
        )
    for method, goal in doc["goal"].items():
        rows.append(
            f"| goal ({method}): robust accuracy at ε={demo_eps:g} ×2, clean −≤3 pts "
            f"| {0.0 - goal['clean_drop_points']:+.1f} pts "
            f"| ×{goal['robust_ratio_at_demo_eps']:.2f} "
            f"at ε={demo_eps:g}, ×{goal['robust_ratio_at_eps_0.2']:.1f} at ε=0.2 "
            + "| " * (len(epsilons) - 1)
            + f"| {met(goal['met'])} |"
        )
    before = doc["mnist_cnn"][0][f"robust_accuracy_eps_{demo_eps:g}"]
    rows += [
        "",
        f"At ε={demo_eps:g} the unhardened CNN already keeps {before:.0%} of its accuracy under "
        f"PGD, so doubling it is out of reach (100% would be ×{1 / before:.2f}); at ε=0.2, "
        "where it keeps almost nothing, hardening multiplies it many times over.",
    ]
    return rows


def demo_rows() -> list[str]:
    """Wall time and queries of each demo campaign."""
    demo = load_result("demo")
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
    doc = load_result("integrity")
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


GUARD_ATTACKS = (("pgd_linf", "PGD L∞"), ("square_linf", "Square L∞"), ("hopskipjump_l2", "HSJ L2"))


def latency_rows() -> list[str]:
    """Added latency of the in-process guard (single row, CPU time and wall time)."""
    doc = load_result("guard_latency")
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
            f"| {wall['p99_added_us'] / 1000:.2f} ms: {met(wall['p99_added_us'] < 1000)} |"
        )
    return rows


def proxy_rows() -> list[str]:
    """Reverse proxy and model server against the direct upstream under wrk."""
    doc = load_result("guard_proxy")
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
            f"| {label} | {ratio:.2f}: {met(ratio >= 0.8)} | {case['cpu_capacity_ratio']:.2f} "
            f"| {p99:.1f} ms: {met(p99 < 5.0)} |"
        )
    return rows


def detection_rows() -> list[str]:
    """TPR at 1% FPR per attack for the best single detector and the combined stage."""
    doc = load_result("guard_detection")
    rows = [
        "| input detector · model | TPR at 1% FPR: "
        + " / ".join(name for _, name in GUARD_ATTACKS)
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
            tprs = " / ".join(f"{result['attacks'][a]['tpr']:.2f}" for a, _ in GUARD_ATTACKS)
            rows.append(f"| {label} · {model} | {tprs} | {result['fpr_measured']:.1%} |")
    return rows


def extraction_rows() -> list[str]:
    """Queries until extraction traffic is flagged, and false alarms on benign traffic."""
    doc = load_result("guard_extraction")
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
        all_met = doc["summary"]["all_met"]
        rows.append(
            f"| {case} | {benign['false_alarms']} / {benign['queries']:,} "
            f"| {_q(knock[0])} / {_q(knock[1])} | {_q(jac[0])} / {_q(jac[1])} | {met(all_met)} |"
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
    doc = load_result("guard_queries")
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


def table() -> str:
    """Every table with the command that reproduces it."""
    return "\n".join(
        [
            "Measured on one 2-core machine; times within a row come from the same run.",
            "Reproduce with `make bench` (runs every `bench/bench_*.py`, then `bench/table.py`).",
            "",
            *blackbox_rows(),
            "",
            *whitebox_rows(),
            "",
            *tree_rows(),
            "",
            *harden_rows(),
            "",
            *demo_rows(),
            "",
            *integrity_rows(),
            "",
            *guard_rows(),
            "",
            *ip_rows(),
            "",
            *data_rows(),
            "",
            *privacy_rows(),
            "",
            *privacy_rank_rows(),
            "",
            *service_rows(),
            "",
            *monitor_rows(),
            "",
            *llm_detector_rows(),
            "",
            *llm_guard_rows(),
            "",
            *llm_probe_rows(),
        ]
    )


if __name__ == "__main__":
    print(table())
