"""Finding, Severity, Evidence and Mitigation: the data every probe returns."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from enum import Enum, IntEnum, StrEnum
from pathlib import PurePath
from typing import Any

import numpy as np

from redwatch.exceptions import UsageError


class Severity(IntEnum):
    """How urgent a finding is; ordered so that comparisons work (HIGH > MEDIUM)."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read a severity name case-insensitively; raise UsageError on anything else."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise UsageError(f"unknown severity {text!r}; expected one of: {names}") from None

    @property
    def label(self) -> str:
        """Lower-case name used in reports."""
        return self.name.lower()


class Category(StrEnum):
    """Probe families, one per kind of adversary goal."""

    EVASION = "evasion"
    EXTRACTION = "extraction"
    PRIVACY = "privacy"
    FAIRNESS = "fairness"
    POISONING = "poisoning"
    INTEGRITY = "integrity"
    SUPPLY_CHAIN = "supply_chain"
    LLM = "llm"


@dataclass(frozen=True)
class Evidence:
    """Proof of a finding. `arrays` are written to disk by the engine; `path` is set then."""

    kind: str
    description: str
    data: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; arrays are referenced by their saved path, never inlined."""
        return {
            "kind": self.kind,
            "description": self.description,
            "data": self.data,
            "path": self.path,
            "arrays": sorted(self.arrays),
        }


@dataclass(frozen=True)
class Mitigation:
    """A fix for a finding: a guard rule, a retraining recipe, a data quarantine, a setting."""

    kind: str
    title: str
    detail: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "title": self.title,
            "detail": self.detail,
            "params": self.params,
        }


@dataclass
class Finding:
    """A confirmed weakness of one target found by one probe.

    `key` discriminates several findings of one probe on one target (e.g. the norm attacked);
    together with probe and target it forms the stable fingerprint that campaign diffs use.
    """

    probe: str
    category: Category
    severity: Severity
    title: str
    description: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    mitigations: list[Mitigation] = field(default_factory=list)
    references: tuple[str, ...] = ()
    target: str = ""
    key: str = ""

    @property
    def fingerprint(self) -> str:
        """Stable id across campaigns: same probe, target and key give the same value."""
        raw = f"{self.probe}\x1f{self.target}\x1f{self.key}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the store and every reporter."""
        return {
            "fingerprint": self.fingerprint,
            "probe": self.probe,
            "category": str(self.category),
            "severity": self.severity.label,
            "title": self.title,
            "description": self.description,
            "metrics": jsonable(self.metrics),
            "evidence": [e.to_dict() for e in self.evidence],
            "mitigations": [m.to_dict() for m in self.mitigations],
            "references": list(self.references),
            "target": self.target,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Inverse of to_dict (evidence arrays are not reloaded, only their paths)."""
        return cls(
            probe=data["probe"],
            category=Category(data["category"]),
            severity=Severity.parse(data["severity"]),
            title=data["title"],
            description=data.get("description", ""),
            metrics=dict(data.get("metrics", {})),
            evidence=[
                Evidence(
                    kind=e["kind"],
                    description=e.get("description", ""),
                    data=e.get("data", {}),
                    path=e.get("path"),
                )
                for e in data.get("evidence", [])
            ],
            mitigations=[Mitigation(**m) for m in data.get("mitigations", [])],
            references=tuple(data.get("references", ())),
            target=data.get("target", ""),
            key=data.get("key", ""),
        )


def jsonable(value: Any, *, strict: bool = False) -> Any:
    """Turn numpy values, tuples, sets, enums and paths into plain JSON types, recursively;
    non-finite floats become None. Other objects pass through, or raise TypeError if strict."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Severity):
        return value.label
    if isinstance(value, Enum):
        return jsonable(value.value, strict=strict)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), strict=strict)
    if isinstance(value, dict):
        return {str(k): jsonable(v, strict=strict) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, strict=strict) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v, strict=strict) for v in value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if strict:
        raise TypeError(f"a value of type {type(value).__name__} cannot be written as JSON")
    return value
