"""The audit document: executive summary, risk register, method and scope, per-finding
evidence and framework sections, as plain JSON data built from one campaign report. The
HTML and PDF are renderings of this document; the JSON file is the document itself."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from redwatch.audit import rubric
from redwatch.audit.frameworks_view import controls, framework_sections
from redwatch.audit.register import NOT_CHECKED, SKIP_KEY, build_register, headline, measured
from redwatch.reports.document import by_severity
from redwatch.reports.document import document as report_document
from redwatch.results import CampaignResult

AUDIT_SCHEMA = "redwatch.audit/v1"
TOP_RISKS = 5
NOT_APPLICABLE = "not applicable"  # status of a probe that ran but had nothing to test
NO_BASELINE = (
    "no baseline was given to compare the model with (a fingerprint file from `redwatch "
    "integrity fingerprint`, passed as the probe's `fingerprint` option)"
)
VERSIONED = ("redwatch", "numpy", "scikit-learn", "torch", "xgboost", "lightgbm", "fairlearn")


@dataclass(frozen=True)
class AuditScope:
    """What the user asked for, beside what the campaign itself records."""

    model: str
    data: str
    label: str
    sensitive: tuple[str, ...] = ()
    train_recipe: str | None = None
    budget_seconds: float | None = None
    formats: tuple[str, ...] = ("html", "pdf", "json")
    extra: dict[str, Any] = field(default_factory=dict)


def build_audit(result: CampaignResult, scope: AuditScope, known: dict[str, Any]) -> dict[str, Any]:
    """The whole audit document of a finished campaign; `known` maps probe names to their
    classes (the registry) for the rubric's access and cost facts."""
    doc = report_document(result)
    register = build_register(doc, known)
    return {
        "schema": AUDIT_SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "redwatch_version": doc["redwatch_version"],
        "subject": subject(doc, scope),
        "summary": summary(doc, register),
        "register": register,
        "method": method(doc, scope),
        "evidence": evidence(doc),
        "controls": controls(doc),
        "frameworks": framework_sections(register, controls(doc)),
        "campaign": {"id": doc["campaign"]["id"], "report": "report.json"},
    }


def subject(doc: dict[str, Any], scope: AuditScope) -> dict[str, Any]:
    """What was audited: the model, its data and the declared sensitive columns."""
    config = doc["campaign"]["config"]
    return {
        "model": scope.model,
        "target_kind": doc["campaign"]["target_kind"],
        "capabilities": config.get("capabilities", []),
        "data": scope.data,
        "label": scope.label,
        "rows": config.get("rows"),
        "features": config.get("features"),
        "clean_accuracy": config.get("clean_accuracy"),
        "sensitive": list(scope.sensitive),
    }


def summary(doc: dict[str, Any], register: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall risk, counts per risk level and the top risks, each as one plain sentence
    that carries the measured figure behind it."""
    findings = [r for r in register if r["kind"] == "finding"]
    clean = [r for r in register if r["kind"] != "finding"]
    counts = {lvl: sum(r["risk"] == lvl for r in findings) for lvl in rubric.RISK_LEVELS}
    ran = [p for p in doc["probes"] if _ran(p)]
    return {
        "overall_risk": rubric.worst({r["risk"] for r in findings}),
        "counts": counts,
        "probes_run": len(ran),
        "probes_not_run": len(doc["probes"]) - len(ran),
        "findings": len(findings),
        "tested_not_found": len(clean),
        "top_risks": [_statement(r) for r in findings[:TOP_RISKS]],
        "clean_tests": [_clean_statement(r) for r in clean],
        "not_applicable": [
            {"probe": p["probe"], "text": f"{p['probe']}: not applicable, {_why_not(p)}."}
            for p in doc["probes"]
            if _not_applicable(p)
        ],
    }


def _statement(row: dict[str, Any]) -> dict[str, Any]:
    figure = row["figure"]
    measured_text = f" Measured: {figure['text']}." if figure else ""
    return {
        "id": row["id"],
        "risk": row["risk"],
        "text": (
            f"{row['title']}.{measured_text} Likelihood {row['likelihood']['label']} "
            f"({row['likelihood']['basis']}); impact {row['impact']['label']}."
        ),
    }


def _clean_statement(row: dict[str, Any]) -> dict[str, Any]:
    figure = row["figure"]
    text = f"{row['probe']}: no weakness found" + (f" ({figure['text']})" if figure else "")
    return {"id": row["id"], "text": text + "."}


def method(doc: dict[str, Any], scope: AuditScope) -> dict[str, Any]:
    """How the audit was done: probes run and not run (with the reason), budgets, data,
    seed, software versions and the rubric itself."""
    config = doc["campaign"]["config"]
    runs, not_run = [], []
    for p in doc["probes"]:
        if _ran(p):
            runs.append(_run_row(p))
        else:
            status = NOT_APPLICABLE if _not_applicable(p) else p["status"]
            not_run.append({"probe": p["probe"], "status": status, "reason": _why_not(p)})
    return {
        "campaign_id": doc["campaign"]["id"],
        "started_at": doc["campaign"]["started_at"],
        "finished_at": doc["campaign"]["finished_at"],
        "probes_run": runs,
        "probes_not_run": not_run,
        "budget": config.get("budget", {}),
        "rows": config.get("rows"),
        "labels": config.get("labels"),
        "seed": config.get("seed"),
        "train_recipe": scope.train_recipe or "the model's own estimator, refitted",
        "versions": versions(),
        "rubric": {
            "likelihood": rubric.LIKELIHOOD,
            "impact": rubric.IMPACT,
            "access": [{"needs": n, "base": b, "access": w} for n, b, w in rubric.ACCESS],
            "few_queries": rubric.FEW_QUERIES,
            "many_queries": rubric.MANY_QUERIES,
            "thresholds": [{"score": s, "risk": lvl} for s, lvl in rubric.RISK_THRESHOLDS],
            "matrix": rubric.matrix(),
        },
    }


def _ran(run: dict[str, Any]) -> bool:
    """The probe ran to the end (or its budget) and had something to test."""
    return run["status"] in ("ok", "budget") and not _not_applicable(run)


def _not_applicable(run: dict[str, Any]) -> bool:
    """The probe started but had nothing to test: it recorded a skip reason, or a verdict
    that says it had no baseline to compare with."""
    metrics = run.get("metrics") or {}
    finished = run["status"] in ("ok", "budget")
    return finished and (SKIP_KEY in metrics or metrics.get("verdict") == NOT_CHECKED)


def _why_not(run: dict[str, Any]) -> str:
    """Why a probe did not measure anything: its own skip reason, the missing baseline,
    else its message."""
    metrics = run.get("metrics") or {}
    if metrics.get(SKIP_KEY):
        return str(metrics[SKIP_KEY])
    if metrics.get("verdict") == NOT_CHECKED:
        return NO_BASELINE
    return str(run["message"] or run["status"])


def _run_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "probe": p["probe"],
        "status": p["status"],
        "seconds": p["seconds"],
        "queries": p["queries"],
        "figure": headline(p.get("metrics") or {}) if measured(p) else None,
    }


def versions() -> dict[str, str]:
    """Python and the installed versions of the packages the measurements depend on."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def evidence(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per finding: description, metrics, evidence items (image arrays by path) and all
    mitigations, in report order (worst severity first)."""
    return [
        {
            "fingerprint": f["fingerprint"],
            "probe": f["probe"],
            "severity": f["severity"],
            "title": f["title"],
            "description": f["description"],
            "metrics": f["metrics"],
            "items": f["evidence"],
            "mitigations": f["mitigations"],
        }
        for f in by_severity(doc["findings"])
    ]
