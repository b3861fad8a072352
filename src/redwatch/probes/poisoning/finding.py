"""The poisoning finding: how much poison it takes to compromise this model, under which
training recipe, and the data-side fixes (scan and quarantine, retrain without the rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redwatch.findings import Evidence, Finding, Mitigation, Severity
from redwatch.targets.base import Target

if TYPE_CHECKING:
    from redwatch.probes.poisoning.common import PoisoningProbe, RatePoint

SCAN_COMMAND = "redwatch data scan TRAIN.csv --label LABEL --quarantine quarantine.csv"
HARDEN_COMMAND = (
    "redwatch harden {model} --data TRAIN.csv{label_option} --drop-rows quarantine.csv "
    "--out {model_stem}-hardened"
)


def finding_for(
    probe: PoisoningProbe,
    target: Target,
    severity: Severity,
    first: RatePoint,
    clean: RatePoint,
    metrics: dict[str, Any],
    success_text: str,
) -> Finding:
    """The finding at the smallest compromising rate `first`; `success_text` words the
    attack success ("{success}" and "{clean}" are filled in)."""
    return Finding(
        probe=probe.name,
        category=probe.category,
        severity=severity,
        title=_title(metrics["attack"], _effect(first, clean, success_text), first.rate),
        description=_description(metrics, first, _effect(first, clean, success_text)),
        metrics=metrics,
        evidence=[
            Evidence(
                "poisoning_curve",
                "clean accuracy and attack success of the retrained model per poisoning rate",
                data={"rates": metrics["rates"], "recipe": metrics["recipe"]},
            )
        ],
        mitigations=mitigations(),
        references=probe.references,
        target=target.name,
    )


def _effect(point: RatePoint, clean: RatePoint, success_text: str) -> str:
    """What the poison did: attack success (where measured) and the clean-accuracy change."""
    accuracy = f"clean accuracy {clean.clean_accuracy:.1%} -> {point.clean_accuracy:.1%}"
    if point.attack_success is None:
        return accuracy
    success = success_text.format(
        success=f"{point.attack_success:.0%}", clean=f"{clean.attack_success or 0.0:.0%}"
    )
    return f"{success}, {accuracy}"


def _title(attack: str, effect: str, rate: float) -> str:
    """One line: the rate and its effect."""
    return f"{rate:.0%} poisoned training rows compromise the model ({attack}): {effect}"


def _description(metrics: dict[str, Any], first: RatePoint, effect: str) -> str:
    """The measurement in words: recipe, split, smallest compromising rate, what it did."""
    done = f"{metrics['rates_done']} of {metrics['rates_planned']} rates measured"
    if metrics.get("stopped"):
        done += " before the time budget ran out"
    if any(r < first.rate for r in metrics["rates_not_measured"]):
        done += "; smaller rates were not measured, so less poison may do"
    return (
        f"The model was retrained from scratch ({metrics['recipe']}) on "
        f"{metrics['train_rows']} campaign rows with {first.poisoned_rows} of them poisoned "
        f"by {metrics['attack']} ({first.rate:.0%}), and measured on "
        f"{metrics['test_rows']} clean held-out rows: {effect}. "
        f"That is the smallest poisoning rate that compromised it ({done}). An attacker who "
        "can write this much of the training data controls the model."
    )


def mitigations() -> list[Mitigation]:
    """Scan the training data before retraining, retrain without what the scan flags, and
    control who may write training data."""
    return [
        Mitigation(
            "data_quarantine",
            "Scan the training data before every retrain",
            "redwatch data scan flags label errors and flips (confident learning), backdoor "
            "triggers (spectral signatures) and duplicates, and writes the flagged rows to "
            "a quarantine file.",
            {"command": SCAN_COMMAND},
        ),
        Mitigation(
            "retrain",
            "Retrain without the quarantined rows",
            "redwatch harden --drop-rows retrains the model without the quarantined rows and "
            "re-runs the campaign to verify the fix.",
            {"command": HARDEN_COMMAND},
        ),
        Mitigation(
            "process",
            "Control who can write training data",
            "Keep training data in versioned, access-controlled storage and review changes "
            "from outside sources (user feedback, scraped data, partners) before they reach "
            "a training run.",
        ),
    ]
