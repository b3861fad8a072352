"""Fingerprint drift probe: does the model still answer its canaries as it did when its
behavioral fingerprint was recorded? A changed weight, a swapped model or a backdoor
fine-tune moves the canaries next to the decision boundary first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from redwatch.exceptions import DataError, ProbeError
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.integrity.fingerprint import FingerprintCheck, check_fingerprint, load_fingerprint
from redwatch.probes.base import Probe, ProbeContext
from redwatch.targets.base import Target

SHOWN_MOVES = 50


class FingerprintDriftProbe(Probe):
    """Check the target against the fingerprint file in params `fingerprint`."""

    name: ClassVar[str] = "integrity.fingerprint"
    category: ClassVar[Category] = Category.INTEGRITY
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0031", "AML.T0018", "OWASP-ML10")
    cost: ClassVar[int] = 1
    description: ClassVar[str] = "Compare the model's answers on canaries with its fingerprint"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """No baseline: record that and return nothing. Drift: one HIGH finding."""
        path = ctx.params.get("fingerprint")
        if not path:
            ctx.metrics.update(baseline="none", verdict="not checked")
            return []
        try:
            fp = load_fingerprint(str(path))
        except DataError as exc:
            raise ProbeError(str(exc)) from None
        result = check_fingerprint(target, fp)
        ctx.metrics.update(
            baseline=str(path),
            verdict=result.verdict,
            checked=result.checked,
            moved=len(result.moved),
            moved_by_kind=result.moved_by_kind(),
            compared=result.compared,
            max_delta=result.max_delta,
        )
        return [] if result.matches else [self._finding(target, str(path), result)]

    def _finding(self, target: Target, path: str, result: FingerprintCheck) -> Finding:
        by_kind = result.moved_by_kind()
        worst_first = sorted(result.moved, key=lambda m: -m.delta)
        return Finding(
            probe=self.name,
            category=self.category,
            severity=Severity.HIGH,
            title=(
                f"Model behavior drifted from its fingerprint: {result.problem}"
                if result.problem
                else f"Model behavior drifted: {len(result.moved)} of {result.checked} "
                "canaries moved"
            ),
            description=(
                f"Checked against {path}: {result.summary()}. The model is not the one that "
                "was fingerprinted (changed weights, a swapped model or a fine-tune)."
            ),
            metrics={
                "checked": result.checked,
                "moved": len(result.moved),
                "moved_data": by_kind["data"],
                "moved_boundary": by_kind["boundary"],
                "max_delta": result.max_delta,
                "compared": result.compared,
            },
            evidence=[
                Evidence(
                    "fingerprint_drift",
                    "canaries whose answers left their tolerance, largest change first",
                    data={
                        "fingerprint": path,
                        "problem": result.problem,
                        "moved": [m.to_dict() for m in worst_first[:SHOWN_MOVES]],
                    },
                )
            ],
            mitigations=[
                Mitigation(
                    "process",
                    "Restore the approved model and find out how it changed",
                    "Redeploy the signed, approved artifact; compare the deployed file with it "
                    "(redwatch integrity verify) and review who could write to it.",
                ),
                Mitigation(
                    "guard_rule",
                    "Check the fingerprint periodically at runtime",
                    "Let the guard or the service run the fingerprint check on a schedule and "
                    "alert (or stop serving) on drift.",
                    {"stage": "integrity"},
                ),
            ],
            references=self.references,
            target=target.name,
        )
