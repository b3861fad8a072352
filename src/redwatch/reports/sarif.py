"""SARIF 2.1.0 report, for code-scanning dashboards (e.g. GitHub code scanning): one run,
one rule per probe, one result per finding, stable fingerprints so alerts track over time."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

from redwatch.reports.base import Reporter
from redwatch.reports.document import (
    document,
    findings_by_probe,
    local_href,
    probe_category,
    references,
    worst_severity,
)
from redwatch.results import CampaignResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "redwatch/v1"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
BASELINE = {"new": "new", "open": "unchanged", "regressed": "new"}
MODEL_SUFFIXES = frozenset(
    {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".onnx", ".json", ".ubj", ".txt"}
    | {".bin", ".safetensors", ".h5", ".keras", ".model"}
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class SarifReporter(Reporter):
    """Static Analysis Results Interchange Format: what code-scanning tools ingest."""

    name: ClassVar[str] = "sarif"
    extension: ClassVar[str] = ".sarif"
    media_type: ClassVar[str] = "application/sarif+json"

    def render(self, result: CampaignResult) -> str:
        """The SARIF log as indented JSON text."""
        return json.dumps(sarif_log(document(result)), indent=2, ensure_ascii=False) + "\n"


def sarif_log(doc: dict[str, Any]) -> dict[str, Any]:
    """Build the SARIF log object from a plain report document."""
    rules = _rules(doc)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    location = _location(doc["campaign"])
    version = doc["redwatch_version"] or "0"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "redwatch",
                "version": version,
                "semanticVersion": version,
                "rules": rules,
            }
        },
        "automationDetails": {
            "id": f"redwatch/{doc['campaign']['target']}/{doc['campaign']['id']}"
        },
        "invocations": [_invocation(doc)],
        "results": [_result(f, index, location) for f in doc["findings"]],
        "properties": {
            "schemaVersion": doc["schema_version"],
            "target": doc["campaign"]["target"],
            "targetKind": doc["campaign"]["target_kind"],
            "counts": doc["summary"]["counts"],
            "fixed": doc["fixed"],
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    grouped = findings_by_probe(doc)
    names = sorted({p["probe"] for p in doc["probes"]} | set(grouped))
    return [_rule(name, grouped.get(name, [])) for name in names]


def _rule(probe: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    severity = worst_severity(findings) or "info"
    refs = sorted({r for f in findings for r in f["references"]})
    category = findings[0]["category"] if findings else probe_category(probe)
    text = f"redwatch {category} probe {probe}"
    if findings:
        text += f": {findings[0]['title']}"
    text_help, markdown_help = _help(probe, findings, refs)
    return {
        "id": probe,
        "name": _rule_name(probe),
        "shortDescription": {"text": text},
        "fullDescription": {"text": (findings[0]["description"] or text) if findings else text},
        "help": {"text": text_help, "markdown": markdown_help},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": ["security", "machine-learning", category, *refs],
            "security-severity": SECURITY_SEVERITY[severity],
            "precision": "high",
        },
    }


def _rule_name(probe: str) -> str:
    """PascalCase identifier from a dotted probe name ('evasion.pgd' -> 'EvasionPgd')."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-\s]+", probe) if part)


def _help(probe: str, findings: list[dict[str, Any]], refs: list[str]) -> tuple[str, str]:
    seen: dict[str, str] = {}
    for finding in findings:
        for m in finding["mitigations"]:
            seen.setdefault(m["title"], m["detail"])
    lines = [f"Mitigations for {probe}:"] if seen else [f"No mitigation recorded for {probe}."]
    md = [f"**Mitigations for `{probe}`**", ""] if seen else [lines[0]]
    for title, detail in seen.items():
        lines.append(f"- {title}" + (f": {detail}" if detail else ""))
        md.append(f"- **{title}**" + (f": {detail}" if detail else ""))
    if refs:
        lines.append("References: " + ", ".join(refs))
        md += ["", "**References**", ""] + [_md_ref(r) for r in references(refs)]
    return "\n".join(lines), "\n".join(md)


def _md_ref(ref: Any) -> str:
    label = f"{ref.id} {ref.name}" if ref.name != ref.id else ref.id
    return f"- [{label}]({ref.url})" if ref.url else f"- {label} ({ref.framework})"


def _result(
    finding: dict[str, Any], index: dict[str, int], location: dict[str, Any]
) -> dict[str, Any]:
    text = finding["title"]
    if finding["description"]:
        text += f". {finding['description']}"
    out: dict[str, Any] = {
        "ruleId": finding["probe"],
        "ruleIndex": index[finding["probe"]],
        "kind": "fail",
        "level": LEVELS[finding["severity"]],
        "message": {"text": text},
        "locations": [location],
        "fingerprints": {FINGERPRINT_KEY: finding["fingerprint"]},
        "partialFingerprints": {FINGERPRINT_KEY: finding["fingerprint"]},
        "baselineState": BASELINE.get(finding["status"], "new"),
        "properties": {
            "status": finding["status"],
            "severity": finding["severity"],
            "security-severity": SECURITY_SEVERITY[finding["severity"]],
            "category": finding["category"],
            "key": finding["key"],
            "metrics": finding["metrics"],
            "mitigations": [m["title"] for m in finding["mitigations"]],
            "tags": finding["references"],
        },
    }
    attachments = _attachments(finding)
    if attachments:
        out["attachments"] = attachments
    return out


def _attachments(finding: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "description": {"text": e["description"] or e["kind"]},
            "artifactLocation": {"uri": href},
        }
        for e in finding["evidence"]
        if (href := local_href(e["path"])) is not None
    ]


def _location(campaign: dict[str, Any]) -> dict[str, Any]:
    """A physical location for model files on disk, a logical one for anything else."""
    target = campaign["target"]
    logical = {"name": target, "fullyQualifiedName": target, "kind": "module"}
    uri = artifact_uri(target, campaign.get("config") or {})
    if uri is None:
        return {"logicalLocations": [logical]}
    return {"physicalLocation": {"artifactLocation": {"uri": uri}}, "logicalLocations": [logical]}


def artifact_uri(target: str, config: dict[str, Any]) -> str | None:
    """URI of the model artifact when the target is a file: the campaign config's
    `model_path` (or `model`) if set, else the target name when it looks like a path; None for
    endpoints, in-process objects and bare names."""
    candidate = config.get("model_path") or config.get("model") or target
    if not isinstance(candidate, str) or not candidate or _URL.match(candidate):
        return None
    if re.match(r"^[A-Za-z]:[\\/]", candidate):
        return PureWindowsPath(candidate).as_uri()
    looks_like_path = "/" in candidate or "\\" in candidate
    if not looks_like_path and PurePosixPath(candidate).suffix.lower() not in MODEL_SUFFIXES:
        return None
    if ":" in candidate.split("/", 1)[0] and not candidate.startswith("/"):
        return None  # "package.module:attr" references an object, not a file
    path = PurePosixPath(candidate.replace("\\", "/"))
    return path.as_uri() if path.is_absolute() else path.as_posix()


def _invocation(doc: dict[str, Any]) -> dict[str, Any]:
    campaign = doc["campaign"]
    notes = [
        {
            "level": "error" if p["status"] == "error" else "note",
            "message": {"text": f"{p['probe']} {p['status']}: {p['message'] or p['status']}"},
            "descriptor": {"id": p["probe"]},
        }
        for p in doc["probes"]
        if p["status"] != "ok"
    ]
    return {
        "executionSuccessful": campaign["status"] == "completed"
        and all(p["status"] != "error" for p in doc["probes"]),
        "startTimeUtc": campaign["started_at"],
        "endTimeUtc": campaign["finished_at"],
        "toolExecutionNotifications": notes,
    }
