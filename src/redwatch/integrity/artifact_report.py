"""What the artifact scan says about one file: a verdict and the items that justify it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redwatch.findings import Severity
from redwatch.integrity.pickle_policy import Verdict, worst

# ATLAS: supply-chain compromise of a model; user execution of an unsafe ML artifact.
REFERENCES = ("AML.T0010.003", "AML.T0011.000", "OWASP-ML06")
_SEVERITY = {Verdict.SAFE: Severity.INFO, Verdict.SUSPICIOUS: Severity.MEDIUM}


@dataclass(frozen=True)
class ScanItem:
    """One reason for a verdict: an offending pickle global, a bad archive member, ..."""

    kind: str
    verdict: Verdict
    message: str
    location: str = ""
    offset: int | None = None
    symbol: str | None = None
    opcode: str | None = None

    @property
    def severity(self) -> Severity:
        """CRITICAL for code execution or escapes; MEDIUM for unknowns."""
        return _SEVERITY.get(self.verdict, Severity.CRITICAL)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {
            "kind": self.kind,
            "verdict": self.verdict.value,
            "severity": self.severity.name.lower(),
            "message": self.message,
            "location": self.location,
            "offset": self.offset,
            "symbol": self.symbol,
            "opcode": self.opcode,
        }


@dataclass(frozen=True)
class FileReport:
    """Verdict for one scanned file; `path` is relative to the root it was scanned under."""

    path: str
    format: str
    size: int
    items: tuple[ScanItem, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        """Worst item verdict; an unreadable file counts as suspicious."""
        extra = [Verdict.SUSPICIOUS] if self.error else []
        return worst([i.verdict for i in self.items] + extra)

    @property
    def severity(self) -> Severity:
        """Severity of the worst item."""
        return _SEVERITY.get(self.verdict, Severity.CRITICAL)

    @property
    def offending(self) -> tuple[ScanItem, ...]:
        """Items that are not safe, worst first."""
        bad = [i for i in self.items if i.verdict is not Verdict.SAFE]
        return tuple(sorted(bad, key=lambda i: -i.verdict.rank))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields, with framework references."""
        return {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "verdict": self.verdict.value,
            "severity": self.severity.name.lower(),
            "references": list(REFERENCES) if self.verdict is not Verdict.SAFE else [],
            "items": [i.to_dict() for i in self.offending],
            "error": self.error,
            "notes": list(self.notes),
        }
