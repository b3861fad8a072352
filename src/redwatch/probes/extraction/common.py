"""Shared plumbing of the extraction probes: held-out rows, the query budget, metered answers,
the stealability curves, and the finding that says which output hardening buys how much.

A strategy only decides WHICH rows to send (`collect`); everything else is here, so the three
probes measure and report the same way."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.ip.stealability import HeldOut, Stealability, checkpoints, steal_curves
from redwatch.ip.surrogate import AnswerTransform, label_answers, output_modes
from redwatch.probes.base import Probe, ProbeContext
from redwatch.targets.base import Target

DEFAULT_THRESHOLD = 0.9  # fidelity at the full budget that makes a finding
DEFAULT_MIN_LIFT = 0.5  # and the share of the gap above a constant answer it must close
DEFAULT_HOLDOUT = 500
BATCH = 256


class ExtractionProbe(Probe):
    """Base of `extraction.*`: spend the query budget, train surrogates, report the curves."""

    category: ClassVar[Category] = Category.EXTRACTION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0024.002", "AML.T0040", "OWASP-ML05")
    cost: ClassVar[int] = 2
    default_queries: ClassVar[int] = 2000
    strategy: ClassVar[str] = ""

    @abstractmethod
    def collect(
        self, target: Target, ctx: ProbeContext, pool: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Send at most `n` queries chosen by this strategy; (rows sent, probabilities)."""

    def describe(self, ctx: ProbeContext) -> str:
        """Where the queries came from, for the finding's description."""
        return self.description.lower()

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Split held-out rows, collect answers, measure the curves, and judge them."""
        held, pool = held_out_split(target, ctx)
        n = query_budget(ctx, self.default_queries, reserved=len(held.x))
        ctx.progress(0.05, f"{self.strategy}: sending up to {n} queries")
        rows, proba = self.collect(target, ctx, pool, n)
        if len(rows) == 0:
            raise ProbeError(f"{self.name}: no query could be sent within the budget")
        ctx.progress(0.5, f"{self.strategy}: training surrogates on {len(rows)} answers")
        result = steal_curves(
            rows,
            proba,
            held,
            modes=modes_for(target, int(ctx.params.get("decimals", 1))),
            sizes=checkpoints(len(rows), _fractions(ctx)),
            learner=str(ctx.params.get("learner", "auto")),
            image_shape=image_shape_of(target),
            seed=ctx.seed,
            should_stop=ctx.out_of_time,
        )
        return judge(self, target, ctx, result)


def image_shape_of(target: Target) -> tuple[int, ...] | None:
    """The target's image shape when its InputSpec says it takes images."""
    spec = target.capabilities.input_spec
    return None if spec is None else spec.image_shape


def _fractions(ctx: ProbeContext) -> tuple[float, ...]:
    """Checkpoint fractions from params `checkpoints` (default 10/25/50/100 %)."""
    raw = ctx.params.get("checkpoints", (0.1, 0.25, 0.5, 1.0))
    try:
        return tuple(float(f) for f in raw)
    except (TypeError, ValueError):
        raise ProbeError(f"checkpoints must be a list of fractions, got {raw!r}") from None


def held_out_split(target: Target, ctx: ProbeContext) -> tuple[HeldOut, np.ndarray]:
    """Seeded split of the campaign rows into held-out rows (labelled by the target, metered)
    and the rest (the pool a strategy may draw natural queries or seeds from)."""
    x = np.asarray(ctx.x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 4:
        raise ProbeError(f"extraction probes need at least 4 evaluation rows, got {len(x)}")
    k = min(int(ctx.params.get("holdout", DEFAULT_HOLDOUT)), len(x) // 3)
    order = ctx.rng.permutation(len(x))
    held_idx, pool_idx = order[: max(k, 1)], order[max(k, 1) :]
    y = np.asarray(ctx.y)
    true = y[held_idx].astype(np.int64) if len(y) == len(x) else None
    labels = np.asarray(target.predict(x[held_idx]), dtype=np.int64)
    return HeldOut(x[held_idx], labels, true), x[pool_idx]


def query_budget(ctx: ProbeContext, default: int, reserved: int) -> int:
    """Queries to spend: params `queries` (default per probe), within ctx.budget.queries
    minus the `reserved` held-out labelling queries."""
    n = int(ctx.params.get("queries", default))
    if ctx.budget.queries is not None:
        n = min(n, ctx.budget.queries - reserved)
    if n < 1:
        raise ProbeError(f"no query budget left for extraction after {reserved} held-out rows")
    return n


def answer(target: Target, rows: np.ndarray, ctx: ProbeContext) -> tuple[np.ndarray, np.ndarray]:
    """Send rows in batches (metered); probabilities, or one-hot labels for a label-only
    target. Stops early, after at least one batch, when the time budget runs out."""
    got: list[np.ndarray] = []
    for start in range(0, len(rows), BATCH):
        if got and ctx.out_of_time():
            break
        got.append(ask(target, rows[start : start + BATCH]))
    sent = sum(len(g) for g in got)
    return rows[:sent], stack_answers(got)


def stack_answers(parts: list[np.ndarray]) -> np.ndarray:
    """Stack answer batches, padding with zero columns where a label-only batch saw fewer
    classes than another."""
    if not parts:
        return np.zeros((0, 0))
    k = max(p.shape[1] for p in parts)
    return np.vstack([np.pad(p, ((0, 0), (0, k - p.shape[1]))) for p in parts])


def ask(target: Target, rows: np.ndarray) -> np.ndarray:
    """One metered call: probabilities when the target exposes scores, else one-hot labels."""
    if target.capabilities.scores:
        return np.asarray(target.predict_proba(rows), dtype=np.float64)
    labels = np.asarray(target.predict(rows), dtype=np.int64)
    k = max(int(target.capabilities.n_classes or 0), int(labels.max(initial=0)) + 1, 2)
    return label_answers(np.eye(k)[labels])


def modes_for(target: Target, decimals: int) -> dict[str, AnswerTransform]:
    """All three output modes for a target with scores; label only otherwise."""
    if target.capabilities.scores:
        return output_modes(decimals)
    return {"label": label_answers}


def exposed_mode(target: Target) -> str:
    """What the target answers today: probabilities if it exposes scores, else labels."""
    return "probabilities" if target.capabilities.scores else "label"


def judge(
    probe: ExtractionProbe, target: Target, ctx: ProbeContext, result: Stealability
) -> list[Finding]:
    """Headline metrics always; a finding when the exposed mode's final fidelity reaches the
    threshold and beats a constant answer by the minimum lift."""
    threshold = float(ctx.params.get("threshold", DEFAULT_THRESHOLD))
    mode = exposed_mode(target)
    curve = result.curve(mode)
    final = curve.final
    lift = result.lift(final.fidelity)
    min_lift = float(ctx.params.get("min_lift", DEFAULT_MIN_LIFT))
    reach = next(
        (
            p.queries
            for p in curve.points
            if p.fidelity >= threshold and result.lift(p.fidelity) >= min_lift
        ),
        None,
    )
    metrics: dict[str, Any] = {
        "strategy": probe.strategy,
        "queries": final.queries,
        "exposed_mode": mode,
        "fidelity": final.fidelity,
        "balanced_fidelity": final.balanced_fidelity,
        "accuracy": final.accuracy,
        "target_accuracy": result.target_accuracy,
        "majority_fidelity": result.majority_fidelity,
        "lift": lift,
        "threshold": threshold,
        "min_lift": min_lift,
        "queries_to_threshold": reach,
        "samples": result.eval_rows,
        "learner": result.learner,
        **({"learner_note": result.learner_note} if result.learner_note else {}),
        **{f"fidelity_{c.mode}": c.final.fidelity for c in result.curves},
    }
    ctx.metrics.update(metrics)
    if reach is None or final.fidelity < threshold or lift < min_lift:
        return []
    severity = severity_of(final.fidelity, reach, curve.points[0].queries)
    return [_finding(probe, target, ctx, result, severity, {**metrics, **result.to_dict()})]


def severity_of(fidelity: float, reach: int | None, first: int) -> Severity:
    """By fidelity (≥ 0.98 high, ≥ 0.95 medium, else low), one level more when the
    threshold was already reached at the first checkpoint (cheap to steal)."""
    level = 3 if fidelity >= 0.98 else 2 if fidelity >= 0.95 else 1
    if reach is not None and reach <= first:
        level = min(level + 1, int(Severity.CRITICAL))
    return Severity(level)


def _finding(
    probe: ExtractionProbe,
    target: Target,
    ctx: ProbeContext,
    result: Stealability,
    severity: Severity,
    metrics: dict[str, Any],
) -> Finding:
    """The finding: what was stolen with how many queries, and what hardening buys."""
    mode = metrics["exposed_mode"]
    final = result.curve(mode).final
    acc = "" if final.accuracy is None else f" and is right on {final.accuracy:.1%} of them"
    own = result.target_accuracy
    reach = metrics["queries_to_threshold"]
    return Finding(
        probe=probe.name,
        category=probe.category,
        severity=severity,
        title=(
            f"Model can be copied with {final.queries:,} queries: surrogate agrees on "
            f"{final.fidelity:.1%} of held-out rows"
        ),
        description=(
            f"A surrogate trained on {final.queries:,} answers ({mode}) to "
            f"{probe.describe(ctx)} agrees with the model on {final.fidelity:.1%} of "
            f"{result.eval_rows} held-out rows{acc}"
            + ("" if own is None else f" (the model itself: {own:.1%})")
            + f"; {metrics['threshold']:.0%} agreement took {reach:,} queries. "
            + hardening_summary(result, mode)
        ),
        metrics=metrics,
        evidence=[
            Evidence(
                "stealability_curve",
                "surrogate fidelity and accuracy against queries, per output mode",
                data=result.to_dict(),
            )
        ],
        mitigations=mitigations(result, mode, int(ctx.params.get("decimals", 1))),
        references=probe.references,
        target=target.name,
    )


def _hardening(mode: str, decimals: int) -> tuple[str, dict[str, Any]] | None:
    """(what the client gets, output-stage options) for a hardened mode; None otherwise."""
    if mode == "label":
        return "labels only", {"label_only": True}
    if mode == "rounded":
        return f"scores rounded to {decimals} decimal(s)", {"decimals": decimals}
    return None


def hardening_summary(result: Stealability, mode: str) -> str:
    """One sentence per cheaper output mode: fidelity at the same query count."""
    if mode != "probabilities":
        return "The model already answers with labels only; that alone does not stop a copy."
    base = result.curve(mode).final
    parts = []
    for other in result.curves:
        if other.mode == mode:
            continue
        point = other.final
        parts.append(
            f"{other.mode} answers give {point.fidelity:.1%} at {point.queries:,} queries "
            f"(change {point.fidelity - base.fidelity:+.1%})"
        )
    return ("With the same queries, " + "; ".join(parts) + ".") if parts else ""


def mitigations(result: Stealability, mode: str, decimals: int = 1) -> list[Mitigation]:
    """Output hardening (with the fidelity it leaves), extraction detection and watermarks."""
    out = []
    base = result.curve(mode).final.fidelity
    for other in result.curves:
        hardening = _hardening(other.mode, decimals)
        if hardening is None or other.mode == mode:
            continue
        what, opts = hardening
        fid = other.final.fidelity
        out.append(
            Mitigation(
                "guard_rule",
                f"Answer with {what}",
                f"Measured: surrogate fidelity {base:.1%} -> {fid:.1%} at "
                f"{other.final.queries:,} queries. Set in the guard's output stage.",
                {"stage": "output", "options": opts, "fidelity": fid},
            )
        )
    out.append(
        Mitigation(
            "guard_rule",
            "Detect and block extraction traffic",
            "The guard's extraction stage flags clients whose queries look like a copy attempt "
            "(PRADA, pooled young keys, out-of-reference rate) and can refuse them.",
            {"stage": "extraction", "options": {"action": "block"}},
        )
    )
    out.append(
        Mitigation(
            "guard_rule",
            "Watermark the API's answers",
            "The guard's watermark stage records keyed answers, so that a surrogate found "
            "elsewhere can be proven to be trained on this API (redwatch ip verify-api).",
            {"stage": "watermark"},
        )
    )
    return out
