"""CampaignResult and ProbeRun: what one campaign produced. Plain data beside findings.py, so
that the engine, the store and the reporters can all use it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redwatch.findings import Finding, Severity, jsonable

REPORT_SCHEMA_VERSION = "1.0"


@dataclass
class ProbeRun:
    """How one probe went: ok, skipped (with reason), error, or stopped by its budget."""

    probe: str
    status: str  # "ok" | "skipped" | "error" | "budget"
    seconds: float = 0.0
    queries: int = 0
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "probe": self.probe,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "queries": self.queries,
            "message": self.message,
            "metrics": jsonable(self.metrics),
        }


@dataclass
class CampaignResult:
    """One campaign against one target. `diff` maps finding fingerprint to its status
    against earlier campaigns on the same target: new, open, regressed; `fixed` lists
    fingerprints (with titles) that were open last time and are gone now."""

    id: str
    target: str
    target_kind: str
    started_at: str  # ISO 8601, UTC
    finished_at: str
    status: str  # "completed" | "failed"
    probes: list[ProbeRun] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    diff: dict[str, str] = field(default_factory=dict)
    fixed: list[dict[str, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    redwatch_version: str = ""
    report_paths: dict[str, str] = field(default_factory=dict)  # format -> file; not serialized

    def counts(self) -> dict[str, int]:
        """Number of findings per severity label, every label present."""
        out = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in self.findings:
            out[f.severity.label] += 1
        return out

    def worst(self) -> Severity | None:
        """Highest severity among the findings, or None when there are none."""
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON report (schema documented in docs/reports.md)."""
        findings = []
        for f in self.findings:
            d = f.to_dict()
            d["status"] = self.diff.get(f.fingerprint, "new")
            findings.append(d)
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "redwatch_version": self.redwatch_version,
            "campaign": {
                "id": self.id,
                "target": self.target,
                "target_kind": self.target_kind,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "status": self.status,
                "config": self.config,
            },
            "summary": {"counts": self.counts(), "fixed": len(self.fixed)},
            "probes": [p.to_dict() for p in self.probes],
            "findings": findings,
            "fixed": self.fixed,
        }

    @classmethod
    def from_dict(cls, report: dict[str, Any]) -> CampaignResult:
        """Rebuild a result from its JSON report (as stored), e.g. to re-render it."""
        campaign = report["campaign"]
        findings = [Finding.from_dict(f) for f in report.get("findings", [])]
        return cls(
            id=campaign["id"],
            target=campaign["target"],
            target_kind=campaign.get("target_kind", ""),
            started_at=campaign.get("started_at", ""),
            finished_at=campaign.get("finished_at", ""),
            status=campaign.get("status", "completed"),
            probes=[ProbeRun(**p) for p in report.get("probes", [])],
            findings=findings,
            diff={f["fingerprint"]: f.get("status", "new") for f in report.get("findings", [])},
            fixed=list(report.get("fixed", [])),
            config=dict(campaign.get("config", {})),
            redwatch_version=report.get("redwatch_version", ""),
        )
