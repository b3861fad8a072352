"""The training-data tables of the README (bench_data_*.py results): label flips against
plain cleanlab, backdoors against ART's defences, shilling profiles against two published
baselines. table.py calls data_rows()."""

from __future__ import annotations

from typing import Any

from _common import load_result, met


def _prf(row: dict[str, Any] | None) -> str:
    """precision / recall / FPR, with a dash for an undefined figure."""
    if row is None:
        return "—"
    return " / ".join(
        "—" if row[k] is None else f"{row[k]:.2f}" for k in ("precision", "recall", "fpr")
    )


def label_rows() -> list[str]:
    """Label flips: our detector (the image path, a CNN with the ensemble, on images) against
    plain cleanlab, same data, same flips, per seed."""
    doc = load_result("data_labels")
    rows = [
        "| label flips · data · rate · seed | plain cleanlab: precision / recall / FPR | redwatch "
        "data scan | goal: recall ≥ 0.90 at precision ≥ 0.80 |",
        "|---|---|---|---|",
    ]
    cases: dict[tuple[str, float, int], dict[str, dict[str, Any]]] = {}
    for r in doc["rows"]:
        cases.setdefault((r["data"], r["rate"], r.get("seed", 0)), {})[r["method"]] = r
    for (data, rate, seed), by in cases.items():
        ours = by.get("redwatch_image") or by["redwatch_ensemble"]
        reached = ours["recall"] >= 0.9 and ours["precision"] >= 0.8
        rows.append(
            f"| {data} · {rate:.0%} · {seed} | {_prf(by.get('cleanlab_plain'))} | {_prf(ours)} "
            f"| {met(reached)} |"
        )
    return rows


def backdoor_rows() -> list[str]:
    """Backdoors (BadNets patch): our QUE score against ART's two defences."""
    doc = load_result("data_backdoor")
    rows = [
        "| backdoor · MNIST 5k · patch · poison | redwatch (QUE): precision / recall / FPR "
        "| ART spectral signatures | ART activation clustering |",
        "|---|---|---|---|",
    ]
    cases: dict[tuple[int, float], dict[str, dict[str, Any]]] = {}
    for r in doc["rows"]:
        cases.setdefault((r["patch"], r["rate"]), {})[r["detector"]] = r
    for (patch, rate), by in sorted(cases.items()):
        rows.append(
            f"| {patch}x{patch} · {rate:.0%} | {_prf(by.get('redwatch_que'))} "
            f"| {_prf(by.get('art_spectral'))} | {_prf(by.get('art_activation'))} |"
        )
    return rows


def shilling_rows() -> list[str]:
    """Shilling (fake profiles in MovieLens-100k): per attack and size, the worst recall and
    FPR over filler sizes and seeds, ours against PCA-VarSelect and an RDMA threshold."""
    doc = load_result("data_shilling")
    methods = ("redwatch", "pca_varselect_topk", "rdma_threshold")
    rows = [
        "| shilling · MovieLens-100k · attack · size | redwatch: worst recall / worst FPR "
        "| PCA-VarSelect (k = true size) | RDMA threshold | goal: recall ≥ 0.90 at FPR ≤ 0.01 "
        "(3–5 %) |",
        "|---|---|---|---|---|",
    ]
    worst: dict[tuple[str, float], dict[str, tuple[float, float]]] = {}
    for r in doc["summary"]:
        cell = worst.setdefault((r["attack"], r["size"]), {})
        recall, fpr = cell.get(r["method"], (1.0, 0.0))
        cell[r["method"]] = (min(recall, r["min_recall"]), max(fpr, r["max_fpr"]))
    for (attack, size), by in worst.items():
        shown = [f"{by[m][0]:.2f} / {by[m][1]:.3f}" if m in by else "—" for m in methods]
        recall, fpr = by["redwatch"]
        goal = met(recall >= 0.9 and fpr <= 0.01) if size >= 0.03 else "—"
        rows.append(f"| {attack} · {size:.0%} | {' | '.join(shown)} | {goal} |")
    return rows


def data_rows() -> list[str]:
    """The training-data tables, separated by blank lines."""
    return [*label_rows(), "", *backdoor_rows(), "", *shilling_rows()]


if __name__ == "__main__":
    print("\n".join(data_rows()))
