"""Causes and grouping, pure: which cause an event kind has, which ATLAS techniques a cause
maps to, and which incident an alert joins."""

from __future__ import annotations

import pytest

from redwatch.incidents.causes import cause_of, techniques
from redwatch.incidents.grouping import Candidate, incident_to_join, joined_severity


@pytest.mark.parametrize(
    ("kind", "data", "cause"),
    [
        ("drift", {}, "drift"),
        ("score_drift", {}, "drift"),
        ("performance", {}, "drift"),
        ("finding_new", {"category": "evasion"}, "finding:evasion"),
        ("finding_regressed", {"category": "privacy"}, "finding:privacy"),
        ("finding_new", {}, "finding:unknown"),
        ("intrusion", {}, "evasion"),
        ("anomaly", {}, "evasion"),
        ("extraction", {}, "extraction"),
        ("integrity", {"check": "hash"}, "integrity"),
        ("rate_limited", {}, "rate_limited"),
        ("campaign_failed", {}, "campaign_failed"),
    ],
)
def test_cause_of(kind: str, data: dict[str, str], cause: str) -> None:
    assert cause_of(kind, data) == cause


def test_techniques_of_causes() -> None:
    assert ("AML.T0015", "Evade ML Model") in techniques("evasion")
    assert [t for t, _ in techniques("finding:extraction")] == ["AML.T0024.002"]
    assert "AML.T0024.000" in dict(techniques("finding:privacy"))
    assert techniques("campaign_failed") == []


def _c(id_: int, last: float, status: str = "open", cause: str = "drift") -> Candidate:
    return Candidate(id_, "credit", cause, status, last, 2)


def test_alert_joins_the_newest_fitting_incident_within_the_window() -> None:
    found = [_c(1, 0.0), _c(2, 500.0), _c(3, 900.0, cause="evasion"), _c(4, 950.0, "closed")]
    assert incident_to_join(found, "credit", "drift", 1000.0, 600.0) == found[1]
    assert incident_to_join(found, "credit", "drift", 1200.0, 600.0) is None  # past the window
    assert incident_to_join(found, "other", "drift", 1000.0, 600.0) is None
    assert incident_to_join([_c(5, 990.0, "mitigated")], "credit", "drift", 1000, 60).id == 5
    assert joined_severity(2, 4) == 4
    assert joined_severity(3, 1) == 3
