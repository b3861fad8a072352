"""How `fairness.groups` reports: the per-attribute metrics block, the finding's wording,
its severity by the size of the gap, and the mitigations."""

from __future__ import annotations

from typing import Any

from redwatch.fairness.assess import Assessment, Settings
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.probes.base import Probe
from redwatch.targets.base import Target

REFERENCES = ("NIST-MEASURE-2.11", "EU-AIA-Art10(2)(f)")
NAMES = {
    "dp_difference": "demographic_parity_difference",
    "dp_ratio": "demographic_parity_ratio",
    "eo_difference": "equalized_odds_difference",
    "eo_ratio": "equalized_odds_ratio",
}


def headline(result: Assessment, settings: Settings) -> dict[str, Any]:
    """Metrics for one attribute: each disparity with its interval, the four-fifths rule,
    the verdicts, then the per-group table (and the proxy table when measured)."""
    block: dict[str, Any] = {"groups_judged": sum(1 for g in result.groups if g["judged"])}
    if not result.judged:
        block["not_judged"] = result.note
    for key, value in result.values.items():
        block[NAMES[key]] = value
        block[f"{NAMES[key]}_ci"] = [round(v, 4) for v in result.intervals[key]]
    if result.judged:
        block["four_fifths_ratio"] = result.values["dp_ratio"]
        block["four_fifths_passes"] = result.values["dp_ratio"] >= settings.four_fifths
        block["four_fifths_fails_beyond_ci"] = result.four_fifths_fails
        block["equalized_odds_fails_beyond_ci"] = result.eo_fails
    block["groups"] = result.groups
    return block


def severity_of(result: Assessment, settings: Settings) -> Severity:
    """By the size of the failing gaps: selection ratio < 0.25 or equalized-odds
    difference >= 0.5 critical; < 0.5 or >= 0.3 high; < 0.65 or >= 0.2 medium; else low."""
    ratio = result.values["dp_ratio"] if result.four_fifths_fails else 1.0
    gap = result.values["eo_difference"] if result.eo_fails else 0.0
    if ratio < 0.25 or gap >= 0.5:
        return Severity.CRITICAL
    if ratio < 0.5 or gap >= 0.3:
        return Severity.HIGH
    if ratio < 0.65 or gap >= 0.2:
        return Severity.MEDIUM
    return Severity.LOW


def unfair_finding(
    probe: Probe,
    target: Target,
    result: Assessment,
    settings: Settings,
    favourable: str,
    metrics: dict[str, Any],
) -> Finding:
    """One finding per attribute that fails a rule beyond its bootstrap interval."""
    judged = [g for g in result.groups if g["judged"]]
    low = min(judged, key=lambda g: g["selection_rate"])
    high = max(judged, key=lambda g: g["selection_rate"])
    rules = _failed_rules(result, settings)
    return Finding(
        probe=probe.name,
        category=Category.FAIRNESS,
        severity=severity_of(result, settings),
        title=(f"Decisions differ by {result.attribute}: {' and '.join(r[0] for r in rules)}"),
        description=(
            f"Favourable outcome: class {favourable!r}. Group {low['group']!r} "
            f"({low['count']} rows) receives it at rate {low['selection_rate']:.1%}, group "
            f"{high['group']!r} ({high['count']} rows) at {high['selection_rate']:.1%}. "
            + " ".join(r[1] for r in rules)
            + " Intervals: 95% stratified bootstrap."
        ),
        metrics=metrics,
        evidence=[
            Evidence(
                "table",
                f"selection rate of class {favourable!r} per {result.attribute} group "
                "(fairlearn MetricFrame; full table in the metrics)",
                data={g["group"]: round(g["selection_rate"], 4) for g in judged},
            )
        ],
        mitigations=mitigations(result.attribute),
        references=probe.references,
        target=target.name,
        key=result.attribute,
    )


def _failed_rules(result: Assessment, settings: Settings) -> list[tuple[str, str]]:
    """(short, long) wording of each rule that fails beyond its interval."""
    rules = []
    if result.four_fifths_fails:
        ratio, (lo, hi) = result.values["dp_ratio"], result.intervals["dp_ratio"]
        rules.append(
            (
                f"four-fifths rule fails (selection-rate ratio {ratio:.2f})",
                f"Selection-rate ratio {ratio:.3f} (95% CI {lo:.3f}-{hi:.3f}) is below "
                f"{settings.four_fifths:g} even at its upper bound.",
            )
        )
    if result.eo_fails:
        gap, (lo, hi) = result.values["eo_difference"], result.intervals["eo_difference"]
        rules.append(
            (
                f"equalized-odds difference {gap:.2f}",
                f"Equalized-odds difference {gap:.3f} (95% CI {lo:.3f}-{hi:.3f}) exceeds "
                f"{settings.max_eo_difference:g} even at its lower bound.",
            )
        )
    return rules


def mitigations(attribute: str) -> list[Mitigation]:
    """Post-processing, constrained training, reweighting, and a review of proxies."""
    return [
        Mitigation(
            "retrain",
            "Train under a fairness constraint",
            "fairlearn's ExponentiatedGradient (or GridSearch) with a DemographicParity or "
            "EqualizedOdds constraint retrains the model to close the gap at a measured cost "
            "in accuracy. Re-run this probe to verify.",
            {"library": "fairlearn", "estimator": "ExponentiatedGradient"},
        ),
        Mitigation(
            "retrain",
            "Post-process with group-specific thresholds",
            f"fairlearn's ThresholdOptimizer picks a decision threshold per {attribute} group "
            "that satisfies the constraint; it needs the attribute at prediction time, which "
            "the law may not allow.",
            {"library": "fairlearn", "estimator": "ThresholdOptimizer"},
        ),
        Mitigation(
            "retrain",
            "Reweight the training data",
            f"Weight training rows so that {attribute} and the label are independent "
            "(reweighing, Kamiran and Calders 2012), then retrain.",
        ),
        Mitigation(
            "process",
            "Review the features that proxy the attribute",
            f"Inputs strongly associated with {attribute} let the model discriminate without "
            "seeing it; the `proxies` table lists them. Drop, coarsen or justify each one.",
        ),
    ]
