"""The privacy table of the README (bench_privacy_mia.py results): our membership-inference
attacks against ART's black-box and rule-based ones, same models, same rows. table.py calls
privacy_rows()."""

from __future__ import annotations

from typing import Any

from _common import load_result, met


def _best(rows: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    """The method with the highest TPR at 0.1 % FPR (AUC breaks ties) among `prefix`*."""
    mine = [r for r in rows if r["method"].startswith(prefix)]
    return max(mine, key=lambda r: (r["tpr_0.1%"], r["auc"]))


def _cell(row: dict[str, Any], prefix: str) -> str:
    """`method`: TPR at 0.1 % FPR / AUC."""
    name = row["method"].removeprefix(prefix)
    return f"{name}: {row['tpr_0.1%']:.3f} / {row['auc']:.2f}"


def privacy_rows() -> list[str]:
    """Per data set and model: the best of ours and of ART's, and the goal on over-fit
    models (≥ 5× ART's TPR at 0.1 % FPR)."""
    doc = load_result("privacy_mia")
    rows = [
        "| membership inference · data · model | redwatch best: TPR at 0.1 % FPR / AUC "
        "| ART best (black-box rf/nn, rule-based) | goal: ≥ 5× ART's TPR (over-fit) |",
        "|---|---|---|---|",
    ]
    cases: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in doc["rows"]:
        cases.setdefault((r["data"], r["model"]), []).append(r)
    verdicts = {v["data"]: v for v in doc["verdicts"]}
    for (data, model), found in cases.items():
        ours, art = _best(found, "redwatch_"), _best(found, "art_")
        goal = "—"
        if model.startswith("overfit") and data in verdicts:
            ratio = verdicts[data]["ratio"]
            shown = "ART 0" if ratio is None else f"{ratio:.1f}×"
            goal = f"{shown}: {met(bool(verdicts[data]['met']))}"
        rows.append(
            f"| {data} · {model} | {_cell(ours, 'redwatch_')} | {_cell(art, 'art_')} | {goal} |"
        )
    return rows


def privacy_rank_rows() -> list[str]:
    """Per data set (bench_audit_privacy_rank.py): the privacy risk the audit gives the
    over-fit and the regularised model, and whether over-fit ranks strictly above."""
    doc = load_result("audit_privacy_rank")
    rows = [
        "| audit privacy risk · data | over-fit RF: risk (L×I) · TPR at 0.1 % FPR "
        "| regularised logreg: risk (L×I) · TPR at 0.1 % FPR | goal: over-fit ranked above |",
        "|---|---|---|---|",
    ]
    for v in doc["verdicts"]:
        rows.append(
            f"| {v['data']} | {v['overfit_risk']} · {_rate(v['overfit_tpr'])} "
            f"| {v['regularised_risk']} · {_rate(v['regularised_tpr'])} | {met(bool(v['met']))} |"
        )
    return rows


def _rate(value: float | None) -> str:
    """A rate as a percentage, or a dash when the probe measured none."""
    return "—" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    print("\n".join(privacy_rows()))
    print()
    print("\n".join(privacy_rank_rows()))
