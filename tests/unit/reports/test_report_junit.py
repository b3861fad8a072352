"""JUnit XML report: parsed back with ElementTree, one testcase per probe run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from redwatch.exceptions import UsageError
from redwatch.findings import Severity
from redwatch.reports.junit import JUnitReporter
from redwatch.results import CampaignResult


def _suite(result: CampaignResult, **options: object) -> ET.Element:
    root = ET.fromstring(JUnitReporter(**options).render(result))  # type: ignore[arg-type]
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    for key in ("tests", "failures", "errors", "skipped"):
        assert root.get(key) == suite.get(key)
    return suite


def _cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in suite.findall("testcase")}


def test_testcase_per_probe_run(campaign: CampaignResult) -> None:
    suite = _suite(campaign)
    cases = _cases(suite)
    expected = {p.probe for p in campaign.probes} | {"privacy.membership"}
    assert set(cases) == expected
    assert suite.get("tests") == str(len(expected))
    assert suite.get("name") == "redwatch: models/digits.joblib"
    assert cases["evasion.pgd"].get("classname") == "redwatch.evasion"
    assert cases["evasion.pgd"].get("time") == "12.346"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["fail_on"] == "high"
    assert props["campaign"] == campaign.id


def test_failures_at_or_above_high(campaign: CampaignResult) -> None:
    suite = _suite(campaign)
    cases = _cases(suite)
    pgd_failure = cases["evasion.pgd"].find("failure")
    assert pgd_failure is not None
    assert pgd_failure.get("message") == campaign.findings[0].title
    assert pgd_failure.get("type") == "high"
    assert "success_rate" in (pgd_failure.text or "")
    assert "epsilon=0.1, accuracy=0.12" in (pgd_failure.text or "")
    out = cases["evasion.pgd"].find("system-out")
    assert out is not None
    assert campaign.findings[1].title in (out.text or "")
    hsj = cases["evasion.hopskipjump"]
    assert hsj.find("failure") is not None
    assert "stopped by its budget" in (hsj.findtext("system-out") or "")
    assert cases["privacy.membership"].find("failure") is None
    assert suite.get("failures") == "2"


def test_skipped_and_error(campaign: CampaignResult) -> None:
    cases = _cases(_suite(campaign))
    skipped = cases["evasion.square"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "needs scores; target exposes labels"
    error = cases["evasion.sensitivity"].find("error")
    assert error is not None
    assert error.get("message") == "ValueError: bad  input shape"  # control character dropped


@pytest.mark.parametrize(
    ("fail_on", "failing"),
    [
        ("critical", {"evasion.hopskipjump"}),
        (Severity.MEDIUM, {"evasion.pgd", "evasion.hopskipjump"}),
        ("info", {"evasion.pgd", "evasion.hopskipjump", "privacy.membership"}),
    ],
)
def test_threshold(campaign: CampaignResult, fail_on: str | Severity, failing: set[str]) -> None:
    cases = _cases(_suite(campaign, fail_on=fail_on))
    assert {n for n, c in cases.items() if c.find("failure") is not None} == failing


def test_several_failures_in_one_probe_are_summarized(campaign: CampaignResult) -> None:
    failure = _cases(_suite(campaign, fail_on="medium"))["evasion.pgd"].find("failure")
    assert failure is not None
    assert failure.get("message") == f"{campaign.findings[0].title} (and 1 more)"
    assert campaign.findings[1].title in (failure.text or "")


def test_bad_threshold_is_a_usage_error(campaign: CampaignResult) -> None:
    with pytest.raises(UsageError, match="unknown severity 'severe'"):
        JUnitReporter(fail_on="severe").render(campaign)


def test_failed_campaign_is_an_error(empty_campaign: CampaignResult) -> None:
    empty_campaign.status = "failed"
    suite = _suite(empty_campaign)
    assert suite.get("errors") == "1"
    assert _cases(suite)["campaign"].find("error") is not None


def test_empty_campaign(empty_campaign: CampaignResult) -> None:
    suite = _suite(empty_campaign)
    assert suite.get("tests") == "0"
    assert suite.get("failures") == "0"
