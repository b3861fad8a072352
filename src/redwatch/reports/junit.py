"""JUnit XML report, for CI test dashboards: one testsuite per campaign, one testcase per
probe run; findings at or above `fail_on` fail their probe's testcase."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, ClassVar

from redwatch.findings import Severity
from redwatch.reports.base import Reporter
from redwatch.reports.document import (
    document,
    findings_by_probe,
    format_value,
    probe_category,
    split_metrics,
)
from redwatch.results import CampaignResult

_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JUnitReporter(Reporter):
    """Test-result XML that CI systems (GitHub Actions, GitLab, Jenkins) display natively."""

    name: ClassVar[str] = "junit"
    extension: ClassVar[str] = ".xml"
    media_type: ClassVar[str] = "application/xml"

    def __init__(self, fail_on: Severity | str = Severity.HIGH) -> None:
        self.fail_on = fail_on

    def render(self, result: CampaignResult) -> str:
        """The JUnit XML document; UsageError when `fail_on` is not a severity name."""
        threshold = self.fail_on
        if not isinstance(threshold, Severity):
            threshold = Severity.parse(threshold)
        root = _testsuites(document(result), threshold)
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _testsuites(doc: dict[str, Any], threshold: Severity) -> ET.Element:
    campaign = doc["campaign"]
    suite = ET.Element("testsuite", name=_clean(f"redwatch: {campaign['target']}"))
    suite.set("id", _clean(campaign["id"]))
    suite.set("timestamp", _clean(campaign["started_at"]))
    _properties(suite, doc, threshold)
    for case in _testcases(doc, threshold):
        suite.append(case)
    counts = _count(suite)
    for key, value in counts.items():
        suite.set(key, value)
    root = ET.Element("testsuites", {"name": "redwatch", **counts})
    root.append(suite)
    return root


def _properties(suite: ET.Element, doc: dict[str, Any], threshold: Severity) -> None:
    campaign = doc["campaign"]
    props = ET.SubElement(suite, "properties")
    values = {
        "campaign": campaign["id"],
        "target": campaign["target"],
        "target_kind": campaign["target_kind"],
        "campaign_status": campaign["status"],
        "redwatch_version": doc["redwatch_version"],
        "fail_on": threshold.label,
        "fixed": str(len(doc["fixed"])),
    }
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=_clean(value))


def _testcases(doc: dict[str, Any], threshold: Severity) -> list[ET.Element]:
    grouped = findings_by_probe(doc)
    runs = list(doc["probes"])
    ran = {p["probe"] for p in runs}
    runs += [
        {"probe": name, "status": "ok", "seconds": 0.0, "queries": 0, "message": ""}
        for name in grouped
        if name not in ran
    ]
    cases = [_testcase(run, grouped.get(run["probe"], []), threshold) for run in runs]
    if doc["campaign"]["status"] != "completed":
        case = ET.Element("testcase", classname="redwatch", name="campaign", time="0")
        ET.SubElement(case, "error", message=f"campaign {doc['campaign']['status']}", type="error")
        cases.append(case)
    return cases


def _testcase(
    run: dict[str, Any], findings: list[dict[str, Any]], threshold: Severity
) -> ET.Element:
    probe = run["probe"]
    case = ET.Element("testcase", classname=f"redwatch.{probe_category(probe)}", name=_clean(probe))
    case.set("time", f"{float(run['seconds']):.3f}")
    failing = [f for f in findings if Severity.parse(f["severity"]) >= threshold]
    passing = [f for f in findings if Severity.parse(f["severity"]) < threshold]
    if run["status"] == "skipped":
        ET.SubElement(case, "skipped", message=_clean(run["message"] or "skipped"))
    elif run["status"] == "error":
        error = ET.SubElement(
            case, "error", message=_clean(run["message"] or "error"), type="error"
        )
        error.text = _clean(run["message"])
        passing = findings
    elif failing:
        _failure(case, failing)
    notes = [f"stopped by its budget: {run['message']}"] if run["status"] == "budget" else []
    notes += [_finding_text(f) for f in passing]
    if notes:
        ET.SubElement(case, "system-out").text = _clean("\n\n".join(notes))
    return case


def _failure(case: ET.Element, failing: list[dict[str, Any]]) -> None:
    order = sorted(failing, key=lambda f: -Severity.parse(f["severity"]))
    message = order[0]["title"]
    if len(order) > 1:
        message += f" (and {len(order) - 1} more)"
    failure = ET.SubElement(case, "failure", message=_clean(message), type=order[0]["severity"])
    failure.text = _clean("\n\n".join(_finding_text(f) for f in order))


def _finding_text(finding: dict[str, Any]) -> str:
    """Plain-text block for one finding: headline, description, metrics, evidence, fixes."""
    lines = [
        f"[{finding['severity'].upper()}] {finding['title']}",
        f"status: {finding['status']}  fingerprint: {finding['fingerprint']}",
    ]
    if finding["description"]:
        lines.append(finding["description"])
    view = split_metrics(finding["metrics"])
    lines += [f"{name}: {format_value(value)}" for name, value in view.scalars + view.other]
    for table in view.tables:
        lines.append(f"{table.name}:")
        lines += [
            "  "
            + ", ".join(f"{c}={format_value(v)}" for c, v in zip(table.columns, row, strict=True))
            for row in table.rows
        ]
    lines += [f"evidence: {e['path']}" for e in finding["evidence"] if e["path"]]
    lines += [f"mitigation: {m['title']}" for m in finding["mitigations"]]
    if finding["references"]:
        lines.append("references: " + ", ".join(finding["references"]))
    return "\n".join(lines)


def _count(suite: ET.Element) -> dict[str, str]:
    cases = suite.findall("testcase")
    seconds = sum(float(c.get("time", "0")) for c in cases)
    return {
        "tests": str(len(cases)),
        "failures": str(sum(c.find("failure") is not None for c in cases)),
        "errors": str(sum(c.find("error") is not None for c in cases)),
        "skipped": str(sum(c.find("skipped") is not None for c in cases)),
        "time": f"{seconds:.3f}",
    }


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot hold (control characters), keep everything else."""
    return _INVALID_XML.sub("", str(text))
