"""The severity table in code and in docs/severity.md must agree."""

from pathlib import Path

from redwatch.findings import Severity
from redwatch.probes.severity import SEVERITY_TABLE, severity_for, table_markdown

DOC = Path(__file__).parents[3] / "docs" / "severity.md"


def test_doc_shows_the_table_from_code() -> None:
    assert table_markdown() in DOC.read_text(encoding="utf-8")


def test_thresholds_pick_the_highest_matching_row() -> None:
    assert severity_for("attack_success_rate", 0.9) is Severity.CRITICAL
    assert severity_for("attack_success_rate", 0.75) is Severity.CRITICAL
    assert severity_for("attack_success_rate", 0.5) is Severity.HIGH
    assert severity_for("attack_success_rate", 0.2) is Severity.MEDIUM
    assert severity_for("attack_success_rate", 0.05) is Severity.LOW
    assert severity_for("attack_success_rate", 0.01) is None


def test_every_row_is_ordered_from_most_to_least_severe() -> None:
    for rows in SEVERITY_TABLE.values():
        severities = [s for s, _ in rows]
        thresholds = [t for _, t in rows]
        assert severities == sorted(severities, reverse=True)
        assert thresholds == sorted(thresholds, reverse=True)
