"""The audit's risk rubric: likelihood from access and effort, risk from likelihood x impact."""

import pytest

from redwatch.audit import rubric
from redwatch.findings import Severity


def test_white_box_attacks_are_rarer_than_api_attacks() -> None:
    white = rubric.likelihood("evasion", {"gradients", "scores"}, queries=5_000, cost=3)
    api = rubric.likelihood("evasion", {"labels"}, queries=5_000, cost=3)
    assert (white.score, white.label) == (1, "rare")
    assert (api.score, api.label) == (3, "likely")
    assert "white-box" in white.reason
    assert "5,000 queries" in api.reason


def test_effort_moves_likelihood_one_step_and_stays_in_range() -> None:
    cheap = rubric.likelihood("extraction", {"labels"}, queries=200, cost=2)
    costly = rubric.likelihood("evasion", {"scores"}, queries=200_000, cost=3)
    floor = rubric.likelihood("evasion", {"gradients"}, queries=200_000, cost=3)
    assert cheap.score == 4
    assert "cheap" in cheap.reason
    assert costly.score == 2
    assert "costly" in costly.reason
    assert floor.score == 1  # clamped, never 0


def test_offline_families_ignore_query_counts() -> None:
    fair = rubric.likelihood("fairness", {"labels"}, queries=10, cost=1)
    poison = rubric.likelihood("poisoning", {"labels", "trainable"}, queries=0, cost=3)
    replica = rubric.likelihood("privacy", {"labels", "scores", "trainable"}, queries=0, cost=3)
    assert fair.score == 4
    assert "queries" not in fair.reason
    assert poison.score == 2
    assert "training data" in poison.reason
    assert replica.score == 3
    assert "replica" in replica.reason


@pytest.mark.parametrize(
    ("likelihood", "severity", "expected"),
    [
        (3, Severity.CRITICAL, "critical"),
        (4, Severity.HIGH, "critical"),
        (3, Severity.HIGH, "high"),
        (2, Severity.HIGH, "medium"),
        (4, Severity.MEDIUM, "high"),
        (3, Severity.MEDIUM, "medium"),
        (3, Severity.LOW, "low"),
        (4, Severity.LOW, "medium"),
        (1, Severity.LOW, "low"),
        (4, Severity.INFO, "info"),
    ],
)
def test_risk_level_of_likelihood_times_impact(
    likelihood: int, severity: Severity, expected: str
) -> None:
    assert rubric.risk_level(likelihood, rubric.impact(severity)) == expected


def test_worst_and_matrix() -> None:
    assert rubric.worst({"low", "high", "medium"}) == "high"
    assert rubric.worst(set()) == rubric.NOT_FOUND
    matrix = rubric.matrix()
    assert [row["likelihood"] for row in matrix] == ["almost certain", "likely", "unlikely", "rare"]
    assert matrix[0]["severe"] == "critical"
    assert matrix[-1]["negligible"] == "info"
