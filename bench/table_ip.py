"""The IP-protection tables of the README (bench_ip_*.py results): stealability by output
mode, trigger-set watermark, API-watermark attribution and fingerprints. table.py calls
ip_rows()."""

from __future__ import annotations

from typing import Any

from _common import load_result, met

MODES = ("probabilities", "label", "rounded", "reverse_sigmoid")
NAMES = {
    "art_knockoffnets": "ART KnockoffNets (CNN thief)",
    "knockoff_mlp": "knockoff with an MLP surrogate",
}


def steal_rows() -> list[str]:
    """Fidelity of the surrogate at the full query budget, per answer mode, and ART's
    KnockoffNets beside ours where it ran."""
    doc = load_result("ip_steal")
    rows = [
        "| model · extraction strategy · queries | fidelity with probabilities / label only / "
        "rounded (1 dp) / reverse sigmoid (credit: balanced fidelity) | surrogate accuracy "
        "(probabilities) |",
        "|---|---|---|",
    ]
    last: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in doc["rows"]:
        cell = last.setdefault((r["model"], r["strategy"]), {})
        if r["mode"] not in cell or r["queries"] >= cell[r["mode"]]["queries"]:
            cell[r["mode"]] = r
    for (model, strategy), cell in last.items():
        first = next(iter(cell.values()))
        fid = " / ".join(
            f"{cell[m][_fidelity_key(model)]:.3f}" if m in cell else "—" for m in MODES
        )
        acc = cell.get("probabilities", cell.get("label", first))["accuracy"]
        name = NAMES.get(strategy, strategy)
        rows.append(f"| {model} · {name} · {first['queries']:,} | {fid} | {acc:.3f} |")
    return rows


def _fidelity_key(model: str) -> str:
    """Credit default is 97 % one class: balanced fidelity says more than plain agreement."""
    return "balanced_fidelity" if model.startswith("credit") else "fidelity"


def watermark_rows() -> list[str]:
    """Trigger-set watermark: proof, cost, false claims and retention."""
    doc = load_result("ip_watermark")
    rows = [
        "| model | watermarked: agreement, p | clean accuracy before → after "
        "(goal ≤ 0.5 % loss) | false claims over 10 independent models | "
        "after fine-tuning / pruning / extraction: agreement, p |",
        "|---|---|---|---|---|",
    ]
    for model, case in doc["cases"].items():
        wm = case["watermarked"]
        loss = case["clean_accuracy_loss"]
        kept = "; ".join(
            f"{r['suspect']}: {r['agreement']:.2f}, {r['p_value']:.1g}" for r in case["retention"]
        )
        rows.append(
            f"| {model} | {wm['agreement']:.2f}, {wm['p_value']:.1g}: "
            f"{met(wm['p_value'] < 1e-6)} | {case['clean_accuracy_before']:.3f} → "
            f"{case['clean_accuracy_after']:.3f}: {met(loss <= 0.005)} "
            f"| {case['false_claims']}: {met(case['false_claims'] == 0)} | {kept} |"
        )
    return rows


def api_rows() -> list[str]:
    """API watermark: p-value of the best surrogate per query budget, and false claims."""
    doc = load_result("ip_api")
    rows = [
        "| victim · queries through the guarded API | watermark records | best surrogate: "
        "agreed, p (goal < 1e-6) | victim's own recipe retrained: agreed |",
        "|---|---|---|---|",
    ]
    cases: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in doc["attribution"]:
        cases.setdefault((r["case"], r["queries"]), []).append(r)
    for (case, queries), group in cases.items():
        best = min(group, key=lambda r: r["p_measured"])
        recipe = next(r for r in group if r["surrogate"] == "recipe")
        rows.append(
            f"| {case} · {queries:,} | {best['records']} | {best['surrogate']}: "
            f"{best['agreed']}, {best['p_measured']:.1g}: {met(best['p_measured'] < 1e-6)} "
            f"| {recipe['agreed']} |"
        )
    claims = sum(r["false_claims"] for r in doc["innocents"])
    models = sum(r["models"] for r in doc["innocents"])
    rows.append(f"| independent models | | false claims: {claims} of {models} | |")
    return rows


def fingerprint_rows() -> list[str]:
    """Fingerprints of never-watermarked models: which derived models are caught, and
    whether any independent model is wrongly called derived."""
    doc = load_result("ip_fingerprint")
    rows = [
        "| fingerprinted model | derived models caught (TPR): labels only / labels + scores "
        "| caught | independent models called derived (FPR) |",
        "|---|---|---|---|",
    ]
    for model, res in doc["results"].items():
        derived = [r for r in res["rows"] if r["group"] == "derived"]
        caught = ", ".join(r["suspect"] for r in derived if r["decision"] == "derived") or "none"
        rows.append(
            f"| {model} | {res['tpr_labels']:.1f} / {res['tpr']:.1f} of {len(derived)} "
            f"| {caught} | {res['fpr']:.1f} |"
        )
    return rows


def ip_rows() -> list[str]:
    """Every IP table, separated by blank lines."""
    out: list[str] = []
    for block in (steal_rows, watermark_rows, api_rows, fingerprint_rows):
        out.extend([*block(), ""])
    return out[:-1]


if __name__ == "__main__":
    print("\n".join(ip_rows()))
