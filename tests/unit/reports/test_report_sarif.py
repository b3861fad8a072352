"""SARIF 2.1.0 report: structure required by the spec, rules per probe, results per finding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from redwatch.reports.sarif import SarifReporter, artifact_uri
from redwatch.results import CampaignResult

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def _log(result: CampaignResult) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(SarifReporter().render(result))
    _check_structure(log)
    return log


def _check_structure(log: dict[str, Any]) -> None:
    """The SARIF 2.1.0 requirements a consumer such as GitHub code scanning relies on."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].startswith("https://")
    assert "sarif" in log["$schema"]
    assert isinstance(log["runs"], list)
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "redwatch"
    assert isinstance(driver["version"], str)
    assert driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["help"]["text"]
        assert float(rule["properties"]["security-severity"]) >= 0.0
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note", "none"}
    for res in run["results"]:
        assert res["message"]["text"]
        assert res["ruleId"] in rule_ids
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note", "none"}
        assert res["baselineState"] in {"new", "unchanged", "updated", "absent"}
        for loc in res["locations"]:
            assert "physicalLocation" in loc or "logicalLocations" in loc
    for inv in run["invocations"]:
        assert isinstance(inv["executionSuccessful"], bool)


def test_one_result_per_finding(campaign: CampaignResult) -> None:
    results = _log(campaign)["runs"][0]["results"]
    assert len(results) == len(campaign.findings)
    for res, finding in zip(results, campaign.findings, strict=True):
        assert res["ruleId"] == finding.probe
        assert res["level"] == LEVELS[finding.severity.label]
        assert res["fingerprints"]["redwatch/v1"] == finding.fingerprint
        assert res["partialFingerprints"]["redwatch/v1"] == finding.fingerprint
        assert res["message"]["text"].startswith(finding.title)
        assert res["properties"]["status"] == campaign.diff.get(finding.fingerprint, "new")
        assert res["properties"]["metrics"]["success_rate" if finding.key else "auc"] is not None
    assert [r["baselineState"] for r in results] == ["new", "unchanged", "new", "new"]


def test_rules_cover_probe_runs_and_findings(campaign: CampaignResult) -> None:
    driver = _log(campaign)["runs"][0]["tool"]["driver"]
    assert driver["version"] == "0.1.0"
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {p.probe for p in campaign.probes} | {f.probe for f in campaign.findings}
    pgd = rules["evasion.pgd"]
    assert pgd["properties"]["security-severity"] == "8.0"  # worst pgd finding is high
    assert {"AML.T0015", "OWASP-ML01"} <= set(pgd["properties"]["tags"])
    assert "Reject inputs off the data manifold" in pgd["help"]["text"]
    assert "https://atlas.mitre.org/techniques/AML.T0015" in pgd["help"]["markdown"]
    assert rules["evasion.hopskipjump"]["properties"]["security-severity"] == "9.5"
    assert rules["evasion.square"]["defaultConfiguration"]["level"] == "note"


def test_file_target_is_a_physical_location(campaign: CampaignResult) -> None:
    res = _log(campaign)["runs"][0]["results"][0]
    loc = res["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "models/digits.joblib"
    uris = [a["artifactLocation"]["uri"] for a in res["attachments"]]
    assert uris == [campaign.findings[0].evidence[0].path]


def test_unsafe_evidence_paths_are_not_attached(campaign: CampaignResult) -> None:
    res = _log(campaign)["runs"][0]["results"][3]
    assert "attachments" not in res


def test_endpoint_target_is_a_logical_location(campaign: CampaignResult) -> None:
    campaign.target = "http://127.0.0.1:8080/predict"
    loc = _log(campaign)["runs"][0]["results"][0]["locations"][0]
    assert "physicalLocation" not in loc
    assert loc["logicalLocations"][0]["name"] == "http://127.0.0.1:8080/predict"


def test_invocation_reports_failed_and_skipped_probes(campaign: CampaignResult) -> None:
    invocation = _log(campaign)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = {n["descriptor"]["id"]: n for n in invocation["toolExecutionNotifications"]}
    assert set(notes) == {"evasion.hopskipjump", "evasion.square", "evasion.sensitivity"}
    assert notes["evasion.sensitivity"]["level"] == "error"
    assert invocation["startTimeUtc"] == campaign.started_at


def test_empty_campaign_is_valid(empty_campaign: CampaignResult) -> None:
    run = _log(empty_campaign)["runs"][0]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


def test_fixed_findings_are_run_properties(campaign: CampaignResult) -> None:
    props = _log(campaign)["runs"][0]["properties"]
    assert props["fixed"][0]["fingerprint"] == "0123456789abcdef"
    assert props["counts"]["critical"] == 1


@pytest.mark.parametrize(
    ("target", "config", "expected"),
    [
        ("models/digits.joblib", {}, "models/digits.joblib"),
        ("model.onnx", {}, "model.onnx"),
        ("/srv/models/clf.pkl", {}, "file:///srv/models/clf.pkl"),
        ("C:\\models\\clf.pkl", {}, "file:///C:/models/clf.pkl"),
        ("digits", {}, None),
        ("mypkg.models:clf", {}, None),
        ("https://api.example.com/predict", {}, None),
        ("digits", {"model_path": "artifacts/digits.pt"}, "artifacts/digits.pt"),
    ],
)
def test_artifact_uri(target: str, config: dict[str, Any], expected: str | None) -> None:
    assert artifact_uri(target, config) == expected
