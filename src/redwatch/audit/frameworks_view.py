"""Framework sections of the audit: which controls the campaign performed, and for each
framework (MITRE ATLAS, OWASP, NIST AI RMF, EU AI Act, GDPR) every cited reference with
the register rows and controls that map to it, and the source document and version."""

from __future__ import annotations

from typing import Any

from redwatch.frameworks import CONTROLS, SOURCES, TABLES, framework_of, resolve, rows_for
from redwatch.reports.document import probe_category

# frameworks in the order the audit presents them
ORDER: tuple[str, ...] = (
    "MITRE ATLAS",
    "OWASP ML Top 10",
    "OWASP LLM Top 10",
    "NIST AI RMF",
    "EU AI Act",
    "GDPR",
)


def controls(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Each control with the probes that performed it and its status: performed, or not
    performed (no probe of its families measured anything)."""
    done: dict[str, list[str]] = {}
    for run in doc["probes"]:
        metrics = run.get("metrics") or {}
        if run["status"] in ("ok", "budget") and "skipped" not in metrics:
            done.setdefault(probe_category(run["probe"]), []).append(run["probe"])
    out = []
    for control in CONTROLS:
        probes = [p for c in control.categories for p in done.get(c, [])]
        performed = not control.categories or bool(probes)
        out.append(
            {
                "id": control.id,
                "title": control.title,
                "description": control.description,
                "status": "performed" if performed else "not performed",
                "probes": probes,
                "by_audit": not control.categories,
                "references": [r.ref for r in rows_for(control.id)],
            }
        )
    return out


def framework_sections(
    register: list[dict[str, Any]], control_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One section per framework that any row or control cites: its source and, per
    reference id, the rationale, register row ids and control ids mapped to it."""
    by_ref: dict[str, dict[str, Any]] = {}
    for row in register:
        for ref in row["references"]:
            _entry(by_ref, ref, row["category"])["rows"].append(row["id"])
    for control in control_rows:
        for ref in control["references"]:
            _entry(by_ref, ref, control["id"])["controls"].append(control["id"])
    sections = []
    for framework in ORDER:
        refs = [e for ref, e in by_ref.items() if framework_of(ref) == framework]
        if not refs:
            continue
        refs.sort(key=lambda e: list(TABLES[framework]).index(e["id"]))
        source = SOURCES[framework]
        sections.append(
            {
                "framework": framework,
                "source": {"document": source.document, "version": source.version},
                "url": source.url,
                "references": refs,
            }
        )
    return sections


def _entry(by_ref: dict[str, dict[str, Any]], ref: str, subject: str) -> dict[str, Any]:
    """The section entry of a reference id, created on first use (unknown ids are kept
    under their own id so that nothing a probe cites is dropped silently), with the
    mapping table's reason for this subject added once."""
    if ref not in by_ref:
        resolved = resolve(ref)
        by_ref[ref] = {
            "id": ref,
            "name": resolved.name if resolved else ref,
            "url": resolved.url if resolved else None,
            "rationale": [],
            "rows": [],
            "controls": [],
        }
    entry = by_ref[ref]
    for row in rows_for(subject):
        if row.ref == ref and row.rationale not in entry["rationale"]:
            entry["rationale"].append(row.rationale)
    return entry
