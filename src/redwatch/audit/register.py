"""The risk register: one row per finding, and one per probe that measured something and
found no weakness ("tested, not found"), each rated likelihood x impact with the measured
figure that backs it and an owner-facing mitigation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from redwatch.audit import rubric
from redwatch.findings import Severity
from redwatch.frameworks import rows_for
from redwatch.reports.document import SEVERITY_ORDER, probe_category

NO_FIX = "Review the finding with the model owner; no automatic fix is known"
KEEP_TESTING = "No action; keep the test in the regular campaign"
NOT_CHECKED = "not checked"  # a verdict that says the probe had nothing to compare with
SKIP_KEY = "skipped"  # ctx.metrics key of a probe that ran but had nothing to test
# Headline metrics in order of preference: (key or key prefix, words, shown as percent)
HEADLINES: tuple[tuple[str, str, bool], ...] = (
    ("tpr_at_0.1%_fpr", "true positive rate at 0.1% false positives", True),
    ("auc", "attack AUC", False),
    ("attack_success_rate", "attack success rate", True),
    ("success_rate", "attack success rate", True),
    ("patch_success_rate", "patch attack success rate", True),
    ("advantage", "attacker advantage over the baseline", True),
    ("match_rate", "reconstructions closest to their own class", True),
    ("demographic_parity_difference", "demographic parity difference", False),
    ("equalized_odds_difference", "equalized odds difference", False),
    ("disparate_impact_ratio", "selection-rate ratio", False),
    ("four_fifths", "four-fifths rule", False),
    ("fidelity", "surrogate agreement with the model", True),
    ("max_attack_success", "backdoor success rate", True),
    ("max_accuracy_drop", "largest accuracy drop from poisoning", True),
    ("single_feature_flip_rate", "decisions flipped by one feature", True),
    ("accuracy_drop", "accuracy drop under random noise", True),
    ("verdict", "verdict", False),
    ("signature", "signature", False),
)


@dataclass(frozen=True)
class ProbeInfo:
    """What the rubric needs to know about a probe: family, capabilities, compute cost."""

    category: str
    requires: frozenset[str]
    cost: int


def probe_info(name: str, known: dict[str, Any]) -> ProbeInfo:
    """Declared facts of a registered probe, or its family from the name when unknown."""
    cls = known.get(name)
    if cls is None:
        return ProbeInfo(probe_category(name), frozenset(), 1)
    return ProbeInfo(str(cls.category), frozenset(cls.requires), int(cls.cost))


def headline(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The measured figure that best sums up a probe's metrics: {metric, value, text}."""
    backdoor, clean = metrics.get("max_attack_success"), metrics.get("clean_attack_success")
    if _number(backdoor) and _number(clean):
        text = f"backdoor success rate {backdoor:.1%} ({clean:.1%} without poisoning)"
        return {"metric": "max_attack_success", "value": backdoor, "text": text}
    for key, words, percent in HEADLINES:
        name = key if key in metrics else _prefixed(metrics, key)
        if name is None:
            continue
        value = metrics[name]
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            continue
        return {"metric": name, "value": value, "text": f"{words} {_show(value, percent)}"}
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"metric": name, "value": value, "text": f"{name} {_show(value, False)}"}
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _prefixed(metrics: dict[str, Any], key: str) -> str | None:
    """A metric named key_<suffix> (e.g. success_rate_L2), first in the metrics' order."""
    return next((k for k in metrics if k.startswith(f"{key}_")), None)


def _show(value: Any, percent: bool) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1%}" if percent else f"{value:.3g}"
    return str(value)


def finding_row(
    finding: dict[str, Any], run: dict[str, Any] | None, info: ProbeInfo
) -> dict[str, Any]:
    """Register row of one finding (report JSON form) and the probe run that made it."""
    queries = int(run["queries"]) if run else 0
    like = rubric.likelihood(finding["category"], info.requires, queries, info.cost)
    severity = Severity.parse(finding["severity"])
    imp = rubric.impact(severity)
    return {
        "kind": "finding",
        "probe": finding["probe"],
        "category": finding["category"],
        "title": finding["title"],
        "severity": severity.label,
        "fingerprint": finding["fingerprint"],
        "likelihood": {"score": like.score, "label": like.label, "basis": like.reason},
        "impact": {"score": imp, "label": rubric.IMPACT[imp]},
        "risk": rubric.risk_level(like.score, imp),
        "figure": headline(finding.get("metrics") or {}),
        "mitigation": _mitigation(finding.get("mitigations") or []),
        "references": _refs(finding["category"], finding.get("references") or []),
    }


def tested_row(run: dict[str, Any], info: ProbeInfo) -> dict[str, Any]:
    """Register row of a probe that measured its target and found no weakness."""
    like = rubric.likelihood(info.category, info.requires, int(run["queries"]), info.cost)
    return {
        "kind": "tested, not found",
        "probe": run["probe"],
        "category": info.category,
        "title": f"{run['probe']}: tested, no weakness found",
        "severity": None,
        "fingerprint": None,
        "likelihood": {"score": like.score, "label": like.label, "basis": like.reason},
        "impact": {"score": 0, "label": rubric.IMPACT[0]},
        "risk": rubric.NOT_FOUND,
        "figure": headline(run.get("metrics") or {}),
        "mitigation": {"title": KEEP_TESTING, "detail": "", "more": 0},
        "references": _refs(info.category, []),
    }


def _mitigation(mitigations: list[dict[str, Any]]) -> dict[str, Any]:
    """Owner-facing action: the first mitigation's title and detail, and how many more the
    evidence section lists."""
    if not mitigations:
        return {"title": NO_FIX, "detail": "", "more": 0}
    first = mitigations[0]
    return {
        "title": first["title"],
        "detail": first.get("detail", ""),
        "more": len(mitigations) - 1,
    }


def _refs(category: str, own: list[str]) -> list[str]:
    """The finding's own references, then the category's mapped ones, without repeats."""
    return list(dict.fromkeys([*own, *(r.ref for r in rows_for(category))]))


def build_register(doc: dict[str, Any], known: dict[str, Any]) -> list[dict[str, Any]]:
    """Every register row of a campaign report, worst risk first, numbered R01, R02, ..."""
    runs = {p["probe"]: p for p in doc["probes"]}
    rows = [
        finding_row(f, runs.get(f["probe"]), probe_info(f["probe"], known)) for f in doc["findings"]
    ]
    with_findings = {f["probe"] for f in doc["findings"]}
    for run in doc["probes"]:
        if run["probe"] not in with_findings and measured(run):
            rows.append(tested_row(run, probe_info(run["probe"], known)))
    order = (*rubric.RISK_LEVELS, rubric.NOT_FOUND)
    rows.sort(key=lambda r: (order.index(r["risk"]), _severity_rank(r["severity"]), r["probe"]))
    for i, row in enumerate(rows, start=1):
        row["id"] = f"R{i:02d}"
    return rows


def measured(run: dict[str, Any]) -> bool:
    """A probe run that finished and measured something (not one that had nothing to test)."""
    metrics = run.get("metrics") or {}
    if SKIP_KEY in metrics or metrics.get("verdict") == NOT_CHECKED:
        return False
    return run["status"] in ("ok", "budget") and bool(metrics)


def _severity_rank(label: str | None) -> int:
    return SEVERITY_ORDER.index(label) if label in SEVERITY_ORDER else len(SEVERITY_ORDER)
