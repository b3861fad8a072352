"""JSON report: equals CampaignResult.to_dict() in plain types and matches the v1 schema."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import numpy as np
import pytest

from redwatch.exceptions import ReportError
from redwatch.reports.json_report import JsonReporter, schema, validate
from redwatch.results import CampaignResult


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_real_reports_validate(campaign: CampaignResult, empty_campaign: CampaignResult) -> None:
    for result in (campaign, empty_campaign):
        doc = json.loads(JsonReporter().render(result))
        validate(doc)
        jsonschema.Draft202012Validator(schema()).validate(doc)


def test_document_is_to_dict_in_plain_types(campaign: CampaignResult) -> None:
    doc = json.loads(JsonReporter().render(campaign))
    expected = campaign.to_dict()
    assert doc["schema_version"] == "1.0"
    assert doc["campaign"]["id"] == expected["campaign"]["id"]
    assert [f["fingerprint"] for f in doc["findings"]] == [
        f["fingerprint"] for f in expected["findings"]
    ]
    assert [f["status"] for f in doc["findings"]] == ["new", "open", "regressed", "new"]
    assert doc["summary"]["counts"] == {"critical": 1, "high": 1, "medium": 1, "low": 1, "info": 0}
    evidence = doc["findings"][0]["evidence"][0]
    assert evidence["data"] == {"n": 32, "max_perturbation": 0.1}
    assert evidence["arrays"] == ["x", "x_adv"]
    assert doc["findings"][3]["metrics"]["tpr_at_1pct_fpr"] is None
    assert doc["probes"][0]["seconds"] == pytest.approx(12.346)


def test_every_schema_field_is_present(campaign: CampaignResult) -> None:
    doc = json.loads(JsonReporter().render(campaign))
    s = schema()
    assert set(s["required"]) == set(doc)
    for name, part in (("campaign", doc["campaign"]), ("finding", doc["findings"][0])):
        assert set(s["$defs"][name]["required"]) == set(part)
    assert set(s["$defs"]["evidence"]["required"]) == set(doc["findings"][0]["evidence"][0])
    assert set(s["$defs"]["probe_run"]["properties"]) == set(doc["probes"][0])


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["findings"][0].pop("fingerprint"), "findings/0"),
        (lambda d: d["findings"][1].update(severity="severe"), "findings/1/severity"),
        (lambda d: d["findings"][2].update(status="gone"), "findings/2/status"),
        (lambda d: d["probes"][0].update(queries=-1), "probes/0/queries"),
        (lambda d: d["probes"][1].update(metrics=[1]), "probes/1/metrics"),
        (lambda d: d.update(extra=1), "(document)"),
        (lambda d: d["summary"]["counts"].pop("info"), "summary/counts"),
        (lambda d: d.update(schema_version="2.0"), "schema_version"),
    ],
)
def test_schema_rejects_broken_documents(campaign: CampaignResult, mutate, where) -> None:  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(json.loads(JsonReporter().render(campaign)))
    mutate(doc)
    with pytest.raises(ReportError, match=re.escape(f"at {where}")):
        validate(doc)


def test_unserializable_config_is_a_report_error(campaign: CampaignResult) -> None:
    campaign.config["model"] = object()
    with pytest.raises(ReportError, match="type object cannot be written"):
        JsonReporter().render(campaign)


def test_numpy_config_values_are_converted(campaign: CampaignResult) -> None:
    campaign.config["eps"] = np.array([0.1, np.inf])
    doc = json.loads(JsonReporter(indent=None).render(campaign))
    assert doc["campaign"]["config"]["eps"] == [0.1, None]


def test_docs_describe_every_schema_field() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[3] / "docs" / "reports.md").read_text(encoding="utf-8")
    s = schema()
    names = set(s["properties"])
    for part in ("campaign", "probe_run", "finding", "mitigation", "evidence"):
        names |= set(s["$defs"][part]["properties"])
    missing = sorted(n for n in names if f"`{n}`" not in docs)
    assert missing == []
