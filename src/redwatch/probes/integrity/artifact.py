"""Artifact scan probe: does the model file carry code that runs when it is loaded?

The file is scanned, never loaded: pickle globals and opcodes, Keras Lambda layers, ONNX
external data, archive members. Unsafe (code execution, path escape) is CRITICAL; suspicious
(unknown globals, malformed structure) is MEDIUM; a safe file gives no finding.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from redwatch.exceptions import ProbeError, RedwatchError
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.probes.base import Probe, ProbeContext
from redwatch.targets.base import Target

_SEVERITY = {"unsafe": Severity.CRITICAL, "suspicious": Severity.MEDIUM}
_CONSEQUENCE = {
    "unsafe": "would run code chosen by whoever wrote the file",
    "suspicious": "needs objects outside the allowlist of what ML formats import",
}
SHOWN_ITEMS = 50


@dataclass(frozen=True)
class ArtifactVerdict:
    """One scanned file, whichever scanner produced it."""

    path: str
    format: str
    verdict: str  # "safe" | "suspicious" | "unsafe"
    items: tuple[dict[str, Any], ...]
    scanner: str


class ArtifactScanProbe(Probe):
    """Scan the model file the target was loaded from for unsafe serialized code."""

    name: ClassVar[str] = "integrity.artifact_scan"
    category: ClassVar[Category] = Category.INTEGRITY
    requires: ClassVar[frozenset[str]] = frozenset({"artifact"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0010.003", "AML.T0011.000", "OWASP-ML06")
    cost: ClassVar[int] = 1
    description: ClassVar[str] = "Scan the model file for code that runs on load (no loading)"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Scan ctx.artifact; one finding per unsafe or suspicious file."""
        if ctx.artifact is None:
            ctx.metrics.update(artifact="none", verdict="not scanned")
            return []
        verdicts = scan_artifact_file(Path(ctx.artifact))
        worst = max((v.verdict for v in verdicts), key=_rank, default="safe")
        ctx.metrics.update(
            artifact=str(ctx.artifact),
            verdict=worst,
            files=len(verdicts),
            scanner=verdicts[0].scanner if verdicts else "none",
        )
        return [self._finding(target, v) for v in verdicts if v.verdict in _SEVERITY]

    def _finding(self, target: Target, v: ArtifactVerdict) -> Finding:
        symbols = sorted({str(i["symbol"]) for i in v.items if i.get("symbol")})
        what = f"it references {', '.join(symbols[:5])}" if symbols else _first_message(v)
        return Finding(
            probe=self.name,
            category=self.category,
            severity=_SEVERITY[v.verdict],
            title=f"Model artifact {Path(v.path).name} is {v.verdict}: {what}"[:200],
            description=(
                f"The {v.format} file {v.path} was scanned without loading it. Loading it "
                f"{_CONSEQUENCE[v.verdict]} ({len(v.items)} offending item(s))."
            ),
            metrics={"verdict": v.verdict, "format": v.format, "offending": len(v.items)},
            evidence=[
                Evidence(
                    "artifact_scan",
                    f"offending items found by {v.scanner}",
                    data={"path": v.path, "items": list(v.items[:SHOWN_ITEMS])},
                )
            ],
            mitigations=artifact_mitigations(),
            references=self.references,
            target=target.name,
            key=f"file={v.path}",
        )


def artifact_mitigations() -> list[Mitigation]:
    """Fixes for an unsafe or unvetted model file."""
    return [
        Mitigation(
            "setting",
            "Keep the load gate on",
            "redwatch refuses unsafe artifacts unless --trust-model is passed; never pass it "
            "for files you did not produce, and quarantine this file.",
        ),
        Mitigation(
            "artifact",
            "Re-export the model in a format that cannot carry code",
            "safetensors for weights, ONNX, XGBoost JSON/UBJ or LightGBM text; rebuild it "
            "from a trusted training run, not by loading the suspect file.",
        ),
        Mitigation(
            "process",
            "Sign approved models and verify before loading",
            "redwatch integrity sign at approval time; verify (or --require-signature) "
            "wherever the model is loaded.",
        ),
    ]


def scan_artifact_file(path: Path) -> list[ArtifactVerdict]:
    """Scan with the full artifact scanner when it is installed, else the pickle scanner."""
    try:
        module = importlib.import_module("redwatch.integrity.scan")
    except ImportError:
        module = None
    try:
        if module is not None and hasattr(module, "scan_path"):
            return [_from_file_report(r, path) for r in module.scan_path(path)]
        return [_from_pickle_report(path)]
    except RedwatchError as exc:
        raise ProbeError(f"cannot scan {path}: {exc}") from None


def _from_file_report(report: Any, root: Path) -> ArtifactVerdict:
    location = str(root) if root.is_file() else str(root / report.path)
    items = tuple(i.to_dict() for i in report.offending)
    if report.error:
        items += ({"kind": "read", "verdict": "suspicious", "message": report.error},)
    return ArtifactVerdict(
        location, report.format, str(report.verdict.value), items, "redwatch.integrity.scan"
    )


def _from_pickle_report(path: Path) -> ArtifactVerdict:
    from redwatch.integrity.pickle_scan import scan_file

    report = scan_file(path)
    items = tuple(
        {
            "kind": "pickle-global",
            "verdict": g.verdict.value,
            "message": f"{g.qualified}: {g.reason}",
            "symbol": g.qualified,
            "offset": g.offset,
            "opcode": g.opcode,
            "location": g.stream,
        }
        for g in report.offending
    ) + tuple({"kind": "issue", "message": i} for i in (*report.issues, *report.fickling_issues))
    return ArtifactVerdict(
        str(path), report.format, report.verdict.value, items, "redwatch.integrity.pickle_scan"
    )


def _first_message(v: ArtifactVerdict) -> str:
    return str(v.items[0].get("message", "see evidence")) if v.items else "see evidence"


def _rank(verdict: str) -> int:
    return {"safe": 0, "suspicious": 1, "unsafe": 2}.get(verdict, 1)
