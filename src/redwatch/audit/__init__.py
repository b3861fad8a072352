"""The compliance audit: one campaign with every security, privacy and fairness probe,
turned into a document (executive summary, risk register, method, evidence, framework
mapping) and rendered as JSON, HTML and PDF."""

from __future__ import annotations

from redwatch.audit.document import AUDIT_SCHEMA, AuditScope, build_audit
from redwatch.audit.run import AuditOutcome, run_audit

__all__ = ["AUDIT_SCHEMA", "AuditOutcome", "AuditScope", "build_audit", "run_audit"]
