"""SARIF 2.1.0 log for an artifact scan: one rule per item kind, one result per offending
item, located at the scanned file (URI relative to the scanned root)."""

from __future__ import annotations

import hashlib
from typing import Any

from redwatch.frameworks import ATLAS, OWASP_ML
from redwatch.integrity.artifact_report import REFERENCES, FileReport, ScanItem
from redwatch.integrity.pickle_policy import Verdict

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Verdict.UNSAFE: "error", Verdict.SUSPICIOUS: "warning", Verdict.SAFE: "note"}
_SECURITY = {Verdict.UNSAFE: "9.5", Verdict.SUSPICIOUS: "5.5", Verdict.SAFE: "0.0"}
_RULE_TEXT = {
    "pickle-global": "Pickle imports a global that can run code",
    "pickle-structure": "Pickle stream has a structure the scan cannot vouch for",
    "fickling": "fickling rates the pickle as overtly malicious",
    "archive-traversal": "Archive member escapes the extraction folder",
    "keras-lambda": "Keras Lambda layer carries Python code",
    "keras-custom-object": "Keras config names a custom (non-Keras) object",
    "onnx-external-data": "ONNX external data escapes the model folder",
    "onnx-custom-domain": "ONNX operator from an unknown custom domain",
    "safetensors-header": "safetensors header is inconsistent with its data",
}


def sarif_log(reports: list[FileReport], *, version: str) -> dict[str, Any]:
    """The SARIF log object for a list of file reports."""
    kinds = sorted({i.kind for r in reports for i in r.offending})
    index = {k: n for n, k in enumerate(kinds)}
    results = [_result(r, i, index) for r in reports for i in r.offending]
    driver = {
        "name": "redwatch",
        "version": version,
        "semanticVersion": version,
        "rules": [_rule(k) for k in kinds],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": "redwatch/integrity-scan"},
                "results": results,
                "properties": {"filesScanned": len(reports)},
            }
        ],
    }


def _rule(kind: str) -> dict[str, Any]:
    text = _RULE_TEXT.get(kind, f"Artifact problem: {kind}")
    refs = [f"{r}: {ATLAS.get(r) or OWASP_ML.get(r, '')}" for r in REFERENCES]
    return {
        "id": f"integrity/{kind}",
        "name": "".join(p.capitalize() for p in kind.split("-")),
        "shortDescription": {"text": text},
        "fullDescription": {"text": f"{text}. References: {'; '.join(refs)}."},
        "properties": {"tags": ["security", "supply-chain", *REFERENCES]},
    }


def _result(report: FileReport, item: ScanItem, index: dict[str, int]) -> dict[str, Any]:
    key = f"{report.path}|{item.kind}|{item.symbol}|{item.location}|{item.offset}"
    return {
        "ruleId": f"integrity/{item.kind}",
        "ruleIndex": index[item.kind],
        "level": _LEVEL[item.verdict],
        "message": {"text": _message(report, item)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": report.path, "uriBaseId": "SRCROOT"}
                },
                "logicalLocations": [{"name": item.location or report.path, "kind": "member"}],
            }
        ],
        "partialFingerprints": {"redwatch/v1": hashlib.sha256(key.encode()).hexdigest()[:32]},
        "properties": {
            "verdict": item.verdict.value,
            "severity": item.severity.name.lower(),
            "security-severity": _SECURITY[item.verdict],
            "format": report.format,
            "symbol": item.symbol,
            "opcode": item.opcode,
            "offset": item.offset,
            "references": list(REFERENCES),
        },
    }


def _message(report: FileReport, item: ScanItem) -> str:
    where = f" ({item.opcode} at offset {item.offset})" if item.offset is not None else ""
    return f"{report.path}: {item.message}{where}"
