"""The before/after table: clean accuracy, robust accuracy per epsilon and attack success per
probe (at its reference epsilon), read from two campaigns' probe metrics and findings'
robustness curves.

A probe that confirms no weakness produces no finding, only its headline metrics (the
reference epsilon); a probe with a finding carries the whole curve. Both are used, so the
table shows every epsilon that either campaign measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from redwatch.results import CampaignResult

NORM_LABEL = {"inf": "L∞", "2": "L2"}


@dataclass(frozen=True)
class Row:
    """One line of the table; None where a campaign did not measure it."""

    metric: str  # "clean accuracy" | "robust accuracy" | "attack success"
    probe: str
    norm: str
    epsilon: float | None
    before: float | None
    after: float | None
    reference: bool = False  # the epsilon that sets severity (and the verdict)

    @property
    def change(self) -> float | None:
        """after - before, when both exist."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def label(self) -> str:
        """Human-readable name of the row."""
        if not self.probe:
            return self.metric
        eps = "" if self.epsilon is None else f" ε={self.epsilon:g}"
        return f"{self.metric} · {self.probe} {NORM_LABEL.get(self.norm, self.norm)}{eps}"


@dataclass(frozen=True)
class Comparison:
    """The table and its verdict: robustness improved when the mean robust accuracy at the
    reference epsilons rose."""

    rows: list[Row]
    improved: bool
    verdict: str
    robust_before: float | None
    robust_after: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (rows with their change)."""
        return {
            "improved": self.improved,
            "verdict": self.verdict,
            "robust_accuracy_before": self.robust_before,
            "robust_accuracy_after": self.robust_after,
            "rows": [{**asdict(r), "label": r.label, "change": r.change} for r in self.rows],
        }


Curve = dict[float, tuple[float, float]]  # epsilon -> (accuracy under attack, success rate)


def measurements(result: CampaignResult) -> dict[tuple[str, str], tuple[Curve, float | None]]:
    """(probe, norm) -> (curve, reference epsilon) from probe metrics and finding curves."""
    out: dict[tuple[str, str], tuple[Curve, float | None]] = {}
    for run in result.probes:
        if run.status not in ("ok", "budget"):
            continue
        for norm in NORM_LABEL:
            acc = run.metrics.get(f"accuracy_under_attack_L{norm}")
            eps = run.metrics.get(f"epsilon_L{norm}")
            if acc is None or eps is None:
                continue
            rate = float(run.metrics.get(f"success_rate_L{norm}", float("nan")))
            out[(run.probe, norm)] = ({float(eps): (float(acc), rate)}, float(eps))
    for finding in result.findings:
        curve = finding.metrics.get("curve")
        norm = str(finding.metrics.get("norm", ""))
        if not isinstance(curve, list) or norm not in NORM_LABEL:
            continue
        points, ref = out.get((finding.probe, norm), ({}, None))
        for p in curve:
            points[float(p["epsilon"])] = (float(p["accuracy"]), float(p["success_rate"]))
        reference = finding.metrics.get("epsilon", ref)
        out[(finding.probe, norm)] = (points, None if reference is None else float(reference))
    return out


def compare(before: CampaignResult, after: CampaignResult) -> Comparison:
    """Build the before/after table of two campaigns run with the same probes and data."""
    rows = [
        Row(
            "clean accuracy",
            "",
            "",
            None,
            _get(before.config, "clean_accuracy"),
            _get(after.config, "clean_accuracy"),
        )
    ]
    mb, ma = measurements(before), measurements(after)
    refs_b: list[float] = []
    refs_a: list[float] = []
    for key in sorted(set(mb) | set(ma)):
        (cb, rb), (ca, ra) = mb.get(key, ({}, None)), ma.get(key, ({}, None))
        ref = rb if rb is not None else ra
        for eps in sorted(set(cb) | set(ca)):
            b, a = cb.get(eps), ca.get(eps)
            is_ref = eps == ref
            rows.append(_row("robust accuracy", key, eps, b, a, 0, is_ref))
            if is_ref:
                rows.append(_row("attack success", key, eps, b, a, 1, is_ref))
            if is_ref and b is not None and a is not None:
                refs_b.append(b[0])
                refs_a.append(a[0])
    return _verdict(rows, refs_b, refs_a)


def _row(
    metric: str,
    key: tuple[str, str],
    eps: float,
    b: tuple[float, float] | None,
    a: tuple[float, float] | None,
    i: int,
    ref: bool,
) -> Row:
    return Row(
        metric, key[0], key[1], eps, None if b is None else b[i], None if a is None else a[i], ref
    )


def _verdict(rows: list[Row], before: list[float], after: list[float]) -> Comparison:
    if not before:
        return Comparison(
            rows, False, "no evasion probe measured robustness in both campaigns", None, None
        )
    mb, ma = sum(before) / len(before), sum(after) / len(after)
    improved = ma > mb
    word = "improved" if improved else "did not improve"
    verdict = (
        f"robustness {word}: mean robust accuracy at the reference epsilons "
        f"{mb:.1%} -> {ma:.1%} over {len(before)} probe/norm pair(s)"
    )
    return Comparison(rows, improved, verdict, mb, ma)


def _get(config: dict[str, Any], key: str) -> float | None:
    value = config.get(key)
    return None if value is None else float(value)
