"""diff_findings: new, open, regressed and fixed against the history of a target."""

from __future__ import annotations

from redwatch.engine.diff import diff_findings
from redwatch.findings import Category, Finding, Severity


def finding(key: str, target: str = "credit") -> Finding:
    """A finding whose fingerprint depends on `key` and `target`."""
    return Finding(
        probe="evasion.pgd",
        category=Category.EVASION,
        severity=Severity.MEDIUM,
        title=f"finding {key}",
        target=target,
        key=key,
    )


A, B, C, D = (finding(k) for k in "abcd")


def fps(*findings: Finding) -> set[str]:
    """Fingerprint set of some findings, as the store's history returns them."""
    return {f.fingerprint for f in findings}


def test_everything_is_new_without_history() -> None:
    status, fixed = diff_findings([A, B], [])
    assert status == {A.fingerprint: "new", B.fingerprint: "new"}
    assert fixed == []


def test_finding_in_the_previous_campaign_is_open() -> None:
    status, fixed = diff_findings([A, B], [fps(A)])
    assert status == {A.fingerprint: "open", B.fingerprint: "new"}
    assert fixed == []


def test_finding_gone_since_the_previous_campaign_is_fixed() -> None:
    status, fixed = diff_findings([B], [fps(A, B, C)])
    assert status == {B.fingerprint: "open"}
    assert fixed == sorted([A.fingerprint, C.fingerprint])


def test_finding_that_was_fixed_and_came_back_is_regressed() -> None:
    history = [fps(A, B), fps(B)]
    status, fixed = diff_findings([A, B], history)
    assert status == {A.fingerprint: "regressed", B.fingerprint: "open"}
    assert fixed == []


def test_only_the_previous_campaign_decides_open_and_fixed() -> None:
    history = [fps(A), fps(B), fps(C)]
    status, fixed = diff_findings([A, B, D], history)
    assert status == {A.fingerprint: "regressed", B.fingerprint: "regressed", D.fingerprint: "new"}
    assert fixed == [C.fingerprint]


def test_empty_campaign_fixes_everything_from_last_time() -> None:
    status, fixed = diff_findings([], [fps(A), fps(B, C)])
    assert status == {}
    assert fixed == sorted(fps(B, C))


def test_same_key_on_another_target_is_a_different_finding() -> None:
    other = finding("a", target="other-model")
    status, _ = diff_findings([other], [fps(A)])
    assert status == {other.fingerprint: "new"}


def test_duplicate_findings_share_one_status() -> None:
    status, fixed = diff_findings([A, finding("a")], [fps(A)])
    assert status == {A.fingerprint: "open"}
    assert fixed == []
