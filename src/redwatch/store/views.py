"""Rows turned into the plain dictionaries the CLI, the service and reporters consume."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redwatch.findings import Finding, Severity
from redwatch.results import REPORT_SCHEMA_VERSION
from redwatch.store.models import CampaignRow, FindingRow


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of a timestamp, or None."""
    return value.isoformat() if value is not None else None


def empty_counts() -> dict[str, int]:
    """Severity label to zero, most severe first (the order CampaignResult.counts uses)."""
    return {s.label: 0 for s in sorted(Severity, reverse=True)}


def campaign_summary(row: CampaignRow, counts: dict[str, int]) -> dict[str, Any]:
    """One line of a campaign listing."""
    return {
        "id": row.id,
        "target": row.target.name,
        "target_kind": row.target.kind,
        "status": row.status,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "error": row.error,
        "redwatch_version": row.redwatch_version,
        "counts": counts,
        "findings": sum(counts.values()),
    }


def campaign_document(row: CampaignRow) -> dict[str, Any]:
    """The stored report plus `status` and `error`; a skeleton report while none exists."""
    if row.report is not None:
        doc = dict(row.report)
    else:
        doc = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "redwatch_version": row.redwatch_version,
            "campaign": {
                "id": row.id,
                "target": row.target.name,
                "target_kind": row.target.kind,
                "started_at": iso(row.started_at),
                "finished_at": iso(row.finished_at),
                "status": row.status,
                "config": row.config,
            },
            "summary": {"counts": empty_counts(), "fixed": 0},
            "probes": [],
            "findings": [],
            "fixed": [],
        }
    doc["status"] = row.status
    doc["error"] = row.error
    return doc


def finding_row(campaign_id: str, finding: Finding, status: str) -> FindingRow:
    """Row for one finding of a campaign."""
    return FindingRow(
        campaign_id=campaign_id,
        fingerprint=finding.fingerprint,
        probe=finding.probe,
        category=str(finding.category),
        severity=int(finding.severity),
        severity_label=finding.severity.label,
        title=finding.title,
        status=status,
        data=finding.to_dict(),
    )


def finding_document(row: FindingRow) -> dict[str, Any]:
    """Finding.to_dict() of a stored finding, with its status and campaign."""
    doc = dict(row.data)
    doc["status"] = row.status
    doc["campaign_id"] = row.campaign_id
    doc["campaign_started_at"] = iso(row.campaign.started_at)
    if not doc.get("target"):
        doc["target"] = row.campaign.target.name
    return doc
