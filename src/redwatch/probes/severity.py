"""The one table that turns probe measurements into severities (documented in docs/severity.md).

Each row: (metric, thresholds). A measurement at or above a threshold gets that severity; the
highest matching row wins. Below the LOW threshold the weakness is not confirmed and the probe
returns no finding, so a campaign diff can report an earlier finding as fixed.
"""

from __future__ import annotations

from redwatch.findings import Severity

# metric name -> thresholds from most to least severe
SEVERITY_TABLE: dict[str, tuple[tuple[Severity, float], ...]] = {
    # share of correctly classified samples an attack flips within the reference epsilon
    "attack_success_rate": (
        (Severity.CRITICAL, 0.75),
        (Severity.HIGH, 0.40),
        (Severity.MEDIUM, 0.15),
        (Severity.LOW, 0.02),
    ),
    # accuracy lost under random noise of the reference size (clean minus noisy accuracy)
    "noise_accuracy_drop": (
        (Severity.HIGH, 0.30),
        (Severity.MEDIUM, 0.10),
        (Severity.LOW, 0.03),
    ),
    # share of predictions one mutable feature flips when moved by the reference step
    "single_feature_flip_rate": (
        (Severity.HIGH, 0.25),
        (Severity.MEDIUM, 0.10),
        (Severity.LOW, 0.03),
    ),
}


def severity_for(metric: str, value: float) -> Severity | None:
    """Severity of a measurement, or None when it stays below every threshold."""
    for severity, threshold in SEVERITY_TABLE[metric]:
        if value >= threshold:
            return severity
    return None


def table_markdown() -> str:
    """The table as Markdown, for docs and reports."""
    lines = ["| metric | critical | high | medium | low |", "|---|---|---|---|---|"]
    for metric, rows in SEVERITY_TABLE.items():
        by = {s: t for s, t in rows}
        cells = [
            f"≥ {by[s]:g}" if s in by else "—"
            for s in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)
        ]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
