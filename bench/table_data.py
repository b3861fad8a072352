"""The training-data tables of the README (bench_data_*.py results): label flips against
plain cleanlab, backdoors against ART's defences. table.py calls data_rows()."""

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
    """Label flips: our detector against plain cleanlab, same data, same flips."""
    doc = load_result("data_labels")
    rows = [
        "| label flips · data · rate | plain cleanlab: precision / recall / FPR | redwatch "
        "data scan | goal: recall ≥ 0.90 at precision ≥ 0.80 |",
        "|---|---|---|---|",
    ]
    cases: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}
    for r in doc["rows"]:
        cases.setdefault((r["data"], r["rate"]), {})[r["method"]] = r
    for (data, rate), by in cases.items():
        ours = by["redwatch_ensemble"]
        reached = ours["recall"] >= 0.9 and ours["precision"] >= 0.8
        rows.append(
            f"| {data} · {rate:.0%} | {_prf(by.get('cleanlab_plain'))} | {_prf(ours)} "
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


def data_rows() -> list[str]:
    """Both training-data tables, separated by a blank line."""
    return [*label_rows(), "", *backdoor_rows()]


if __name__ == "__main__":
    print("\n".join(data_rows()))
