"""Shared plumbing for evasion probes: the unit box that attacks work in, sample selection,
robustness curves, and turning measurements into a Finding."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.attacks.base import AttackResult, lp_norm
from redwatch.exceptions import ProbeError, QueryBudgetExceeded
from redwatch.findings import Category, Evidence, Finding, Mitigation
from redwatch.probes.base import ProbeContext
from redwatch.probes.severity import severity_for
from redwatch.targets.base import Target
from redwatch.targets.spec import InputSpec

# Default epsilons, as a fraction of each feature's range (tabular) or of the pixel range.
# Tabular L2 epsilons are root-mean-square changes per mutable feature, so that L∞ and L2
# numbers mean comparable things whatever the number of features.
DEFAULT_EPSILONS: dict[tuple[str, str], tuple[float, ...]] = {
    ("tabular", "inf"): (0.01, 0.02, 0.05, 0.1),
    ("tabular", "2"): (0.01, 0.02, 0.05, 0.1),
    ("image", "inf"): (0.02, 0.05, 0.1, 0.2),
    ("image", "2"): (0.5, 1.0, 2.0, 3.0),
}
# The epsilon whose success rate sets the severity.
REFERENCE_EPSILON: dict[tuple[str, str], float] = {
    ("tabular", "inf"): 0.05,
    ("tabular", "2"): 0.05,
    ("image", "inf"): 0.1,
    ("image", "2"): 2.0,
}


@dataclass
class EvasionSetup:
    """The rows under attack, in feature units (x) and in the unit box (u)."""

    spec: InputSpec
    x: np.ndarray
    y: np.ndarray
    correct: np.ndarray
    kind: str  # "tabular" | "image"

    @property
    def mask(self) -> np.ndarray:
        """Features the attacker may change."""
        return self.spec.mutable_mask

    def norm_scale(self, norm: str) -> float:
        """Factor from a reported epsilon to the attack's unit-box norm: sqrt(mutable
        features) for tabular L2 (RMS per feature), 1 otherwise."""
        if norm == "2" and self.kind == "tabular":
            return float(np.sqrt(max(int(self.mask.sum()), 1)))
        return 1.0

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Feature units -> [0, 1] per feature."""
        return (x - self.spec.lower) / self.spec.scale

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """[0, 1] per feature -> feature units."""
        return self.spec.lower + u * self.spec.scale

    def feasible(self, u_adv: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Map unit-box results back to feature units and make them feasible."""
        return self.spec.project(self.from_unit(u_adv), self.x[rows])


def prepare(target: Target, ctx: ProbeContext, default_samples: int) -> EvasionSetup:
    """Pick the evaluation rows (seeded) and find which the model gets right."""
    spec = target.capabilities.input_spec
    if spec is None:
        raise ProbeError(f"target {target.name} has no input spec; the engine must set one")
    n = int(ctx.params.get("samples", default_samples))
    if n < 1:
        raise ProbeError(f"samples must be at least 1, got {n}")
    rows = np.sort(ctx.rng.permutation(len(ctx.x))[: min(n, len(ctx.x))])
    x, y = ctx.x[rows], ctx.y[rows]
    correct = target.predict(x) == y
    return EvasionSetup(spec, x, y, correct, "image" if spec.is_image else "tabular")


def epsilons_for(setup: EvasionSetup, norm: str, ctx: ProbeContext) -> tuple[list[float], float]:
    """Epsilons to sweep and the reference epsilon, from params or the defaults."""
    key = (setup.kind, norm)
    eps = [float(e) for e in ctx.params.get("epsilons", DEFAULT_EPSILONS[key])]
    ref = float(ctx.params.get("reference_epsilon", REFERENCE_EPSILON[key]))
    if not eps or min(eps) <= 0:
        raise ProbeError(f"epsilons must be positive, got {eps}")
    if ref not in eps:
        eps = sorted({*eps, ref})
    return sorted(eps), ref


def median_norm(setup: EvasionSetup, x_adv: np.ndarray, fooled: np.ndarray, norm: str) -> float:
    """Median perturbation size (unit box) over the fooled rows; 0.0 when none."""
    if not fooled.any():
        return 0.0
    delta = setup.to_unit(x_adv[fooled]) - setup.to_unit(setup.x[fooled])
    return float(np.median(lp_norm(delta, norm))) / setup.norm_scale(norm)


def curve_point(
    eps: float, n_total: int, correct: np.ndarray, fooled: np.ndarray
) -> dict[str, float]:
    """Accuracy under attack and success rate (among correctly classified rows) at one eps."""
    robust = int(np.sum(correct & ~fooled))
    n_correct = int(correct.sum())
    return {
        "epsilon": eps,
        "accuracy": robust / max(n_total, 1),
        "success_rate": (n_correct - robust) / max(n_correct, 1),
    }


def evasion_mitigations(black_box: bool) -> list[Mitigation]:
    """Fixes that apply to every evasion weakness; black-box ones add query-side defences."""
    out = [
        Mitigation(
            "retrain",
            "Adversarially train the model",
            "Retrain on adversarial examples crafted at the reference epsilon (PGD/TRADES); "
            "rerun this campaign to verify the new model holds.",
            {
                "command": "redwatch harden {model} --data {data}{label_option} "
                "--out {model_stem}-hardened"
            },
        ),
        Mitigation(
            "guard_rule",
            "Squeeze and validate inputs at runtime",
            "Clip inputs to the declared bounds and quantize them before the model; reject "
            "inputs whose prediction changes under squeezing.",
            {"stage": "sanitize"},
        ),
    ]
    if black_box:
        out.append(
            Mitigation(
                "guard_rule",
                "Limit and watch query patterns",
                "Black-box attacks need many near-duplicate queries: rate-limit per key and "
                "alert on dense query clusters; return labels only where scores are not needed.",
                {"stage": "rate_limit"},
            )
        )
    return out


def record_headline(
    ctx: ProbeContext, norm: str, curve: list[dict[str, float]], reference: float
) -> None:
    """Put the reference-epsilon numbers of a sweep into ctx.metrics."""
    point = next((p for p in curve if p["epsilon"] == reference), None)
    if point is not None:
        ctx.metrics[f"epsilon_L{norm}"] = reference
        ctx.metrics[f"success_rate_L{norm}"] = point["success_rate"]
        ctx.metrics[f"accuracy_under_attack_L{norm}"] = point["accuracy"]


def _units(setup: EvasionSetup, norm: str) -> str:
    """What an epsilon is measured in, for finding descriptions."""
    if setup.kind == "image":
        return "in pixel-intensity units of the image's value range"
    if norm == "2":
        return "root-mean-square change per mutable feature, as a fraction of its range"
    return "as a fraction of each feature's range"


def cheapest_evasion(
    setup: EvasionSetup, x_adv: np.ndarray, fooled: np.ndarray
) -> dict[str, Any] | None:
    """The fooled row whose change costs least (InputSpec.change_cost), with the features
    that changed in the user's own units; None when nothing was fooled."""
    rows = np.flatnonzero(fooled)
    if len(rows) == 0:
        return None
    spec = setup.spec
    costs = spec.change_cost(x_adv[rows], setup.x[rows])
    best = int(rows[int(np.argmin(costs))])
    before, after = setup.x[best], x_adv[best]
    moved = np.flatnonzero(np.abs(after - before) > 1e-9 * spec.scale)
    return {
        "row": best,
        "cost": float(costs.min()),
        "cost_units": spec.cost_units,
        "changes": {
            spec.feature_names[i]: {"from": float(before[i]), "to": float(after[i])} for i in moved
        },
    }


def cheapest_sentence(cheapest: dict[str, Any], limit: int = 6) -> str:
    """One sentence for a finding: "Cheapest feasible evasion: amount 120 → 95.5, …"."""
    changes = [f"{name} {c['from']:g} → {c['to']:g}" for name, c in cheapest["changes"].items()]
    more = f" and {len(changes) - limit} more" if len(changes) > limit else ""
    return (
        f"Cheapest feasible evasion: {', '.join(changes[:limit])}{more} "
        f"(cost {cheapest['cost']:.4g}, {cheapest['cost_units']})."
    )


def build_finding(
    *,
    probe: str,
    target: Target,
    setup: EvasionSetup,
    norm: str,
    curve: list[dict[str, float]],
    reference: float,
    metrics: dict[str, Any],
    x_adv: np.ndarray,
    fooled: np.ndarray,
    references: tuple[str, ...],
    attack_label: str,
    black_box: bool,
) -> Finding | None:
    """A Finding from a robustness sweep, or None when the success rate stays below LOW."""
    ref_point = next(p for p in curve if p["epsilon"] == reference)
    severity = severity_for("attack_success_rate", ref_point["success_rate"])
    if severity is None:
        return None
    clean_acc = float(setup.correct.mean())
    rows = np.flatnonzero(fooled)[:25]
    metrics = {
        "clean_accuracy": clean_acc,
        "norm": norm,
        "epsilon": reference,
        "success_rate": ref_point["success_rate"],
        "accuracy_under_attack": ref_point["accuracy"],
        "curve": curve,
        "samples": len(setup.x),
        **metrics,
    }
    cheapest = cheapest_evasion(setup, x_adv, fooled) if setup.kind == "tabular" else None
    if cheapest is not None:
        metrics["cheapest_evasion"] = cheapest
    evidence = Evidence(
        kind="adversarial_examples",
        description=f"{len(rows)} inputs the model misclassifies after a small "
        f"L{'∞' if norm == 'inf' else '2'} perturbation (feature units, feasible)",
        data={"rows": len(rows), "feature_names": list(setup.spec.feature_names)[:50]},
        arrays={"x": setup.x[rows], "x_adv": x_adv[rows], "y": setup.y[rows]},
    )
    name = "L∞" if norm == "inf" else "L2"
    return Finding(
        probe=probe,
        category=Category.EVASION,
        severity=severity,
        title=f"{attack_label} flips {ref_point['success_rate']:.0%} of correct predictions "
        f"at {name} ε={reference:g}",
        description=(
            f"With perturbations of at most ε={reference:g} ({name}, {_units(setup, norm)}) "
            f"the {attack_label} attack turned "
            f"{ref_point['success_rate']:.1%} of correctly classified inputs into errors; "
            f"accuracy fell from {clean_acc:.1%} to {ref_point['accuracy']:.1%}."
            + (f" {cheapest_sentence(cheapest)}" if cheapest is not None else "")
        ),
        metrics=metrics,
        evidence=[evidence],
        mitigations=evasion_mitigations(black_box),
        references=references,
        target=target.name,
        key=f"norm={norm}",
    )


AttackFn = Callable[[np.ndarray, np.ndarray, float], AttackResult]


@dataclass
class SweepSpec:
    """What a fixed-epsilon sweep needs besides the target: who runs it and how to label it."""

    probe: str
    references: tuple[str, ...]
    attack_label: str
    black_box: bool
    norm: str


def recheck(
    target: Target, setup: EvasionSetup, u_adv: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Make attack output feasible and confirm on the model which rows are still fooled.

    Returns (x_adv for `rows`, fooled mask over all setup rows). A budget that runs out here
    counts the rows as not fooled, and so does a row that is still infeasible: only
    confirmed, feasible evasions are reported.
    """
    x_adv = setup.feasible(u_adv, rows)
    fooled = np.zeros(len(setup.x), dtype=bool)
    with contextlib.suppress(QueryBudgetExceeded):
        fooled[rows] = target.predict(x_adv) != setup.y[rows]
    fooled[rows] &= setup.spec.feasible(x_adv)  # only feasible evasions are ever reported
    return x_adv, fooled


@contextlib.contextmanager
def reserving(target: Target, n: int, deadline: float | None = None) -> Iterator[None]:
    """Cap an attack so that n queries stay available to confirm its examples, and stop it
    at `deadline` (the probe's time share) when one is given."""
    left = target.remaining
    with target.limit(None if left is None else max(0, left - n)), target.until(deadline):
        yield


def sweep(
    target: Target, ctx: ProbeContext, setup: EvasionSetup, spec: SweepSpec, attack: AttackFn
) -> Finding | None:
    """Run a fixed-epsilon attack at every epsilon on the correctly classified rows and build
    the finding from the robustness curve. Stops at the time budget or a spent query budget.

    The reference epsilon runs first, so a tight budget still measures the number that sets
    the severity; each attack leaves enough queries to confirm its examples on the model, so
    a spent budget never turns found evasions into "not fooled". A point measured by an
    attack the budget cut short is a lower bound and is flagged in ctx.metrics.
    """
    epsilons, reference = epsilons_for(setup, spec.norm, ctx)
    rows = np.flatnonzero(setup.correct)
    u0 = setup.to_unit(setup.x[rows])
    x_best = setup.x.copy()
    fooled_ref = np.zeros(len(setup.x), dtype=bool)
    curve: list[dict[str, float]] = []
    queries0 = target.queries
    for i, eps in enumerate([reference, *(e for e in epsilons if e != reference)]):
        if ctx.out_of_time() or len(rows) == 0:
            break
        ctx.progress(i / len(epsilons), f"{spec.attack_label} L{spec.norm} ε={eps:g}")
        try:
            with reserving(target, len(rows), ctx.deadline):
                result = attack(u0, setup.y[rows], eps * setup.norm_scale(spec.norm))
        except QueryBudgetExceeded:
            break
        x_adv, fooled = recheck(target, setup, result.x_adv, rows)
        curve.append(curve_point(eps, len(setup.x), setup.correct, fooled))
        if eps == reference:
            fooled_ref, x_best[rows] = fooled, x_adv
        if result.stopped == "budget":
            ctx.metrics[f"budget_cut_at_epsilon_L{spec.norm}"] = eps
            break
    curve.sort(key=lambda p: p["epsilon"])
    record_headline(ctx, spec.norm, curve, reference)
    if not any(p["epsilon"] == reference for p in curve):
        return None
    return build_finding(
        probe=spec.probe,
        target=target,
        setup=setup,
        norm=spec.norm,
        curve=curve,
        reference=reference,
        x_adv=x_best,
        fooled=fooled_ref,
        references=spec.references,
        attack_label=spec.attack_label,
        black_box=spec.black_box,
        metrics={
            "queries": target.queries - queries0,
            "median_norm": median_norm(setup, x_best, fooled_ref, spec.norm),
        },
    )


def sized_finding(
    target: Target,
    ctx: ProbeContext,
    setup: EvasionSetup,
    spec: SweepSpec,
    rows: np.ndarray,
    x_adv: np.ndarray,
    fooled: np.ndarray,
    metrics: dict[str, Any],
) -> tuple[Finding | None, np.ndarray]:
    """Finding from a minimal-perturbation attack: the size of each confirmed evasion gives
    the whole robustness curve at once. x_adv (feature units, for `rows`) and fooled come from
    `recheck`. Returns (finding or None, size per setup row: unit-box norm, inf if not fooled)."""
    epsilons, reference = epsilons_for(setup, spec.norm, ctx)
    sizes = np.full(len(setup.x), np.inf)
    delta = setup.to_unit(x_adv) - setup.to_unit(setup.x[rows])
    scale = setup.norm_scale(spec.norm)
    sizes[rows] = np.where(fooled[rows], lp_norm(delta, spec.norm) / scale, np.inf)
    curve = [curve_point(e, len(setup.x), setup.correct, sizes <= e) for e in epsilons]
    record_headline(ctx, spec.norm, curve, reference)
    x_all = setup.x.copy()
    x_all[rows] = x_adv
    finding = build_finding(
        probe=spec.probe,
        target=target,
        setup=setup,
        norm=spec.norm,
        curve=curve,
        reference=reference,
        x_adv=x_all,
        fooled=sizes <= reference,
        references=spec.references,
        attack_label=spec.attack_label,
        black_box=spec.black_box,
        metrics={
            "median_norm": float(np.median(sizes[fooled])) if fooled.any() else 0.0,
            "success_rate_any_size": float(fooled[rows].mean()) if len(rows) else 0.0,
            **metrics,
        },
    )
    return finding, sizes
