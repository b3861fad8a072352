"""Shared plumbing of the poisoning-susceptibility probes: options, the seeded train/test
split of the campaign rows, the sweep over poisoning rates (retrain with the target's recipe,
measure on the clean test part), and the finding that says how much poison it takes.

A probe only decides HOW to poison (`plan`); everything else is here, so both probes measure
and report the same way."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from redwatch.exceptions import ProbeError, RedwatchError, first_line
from redwatch.findings import Category, Finding, Severity
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.poisoning.finding import finding_for
from redwatch.recipe import TrainRecipe, recipe_for
from redwatch.targets.base import Target

DEFAULT_RATES = (0.01, 0.05, 0.1, 0.2)
DEFAULT_MAX_ROWS = 2000
DEFAULT_TEST_FRACTION = 0.3
DEFAULT_MIN_SUCCESS = 0.5  # attack success that compromises the model
DEFAULT_MIN_LIFT = 0.2  # ... and how far it must rise above the clean model's
DEFAULT_MAX_DROP = 0.05  # clean-accuracy drop (absolute) that compromises the model
MIN_ROWS = 20

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Settings:
    """The options both probes share, read once before any training."""

    rates: tuple[float, ...]
    max_rows: int
    test_fraction: float
    min_success: float
    min_lift: float
    max_drop: float


@dataclass(frozen=True)
class Split:
    """The campaign rows split into the part that is poisoned and retrained on, and the
    clean part every model is measured on."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class PoisonPlan:
    """How one probe poisons: `poison(rate, rng)` gives (x, y, poisoned row indices) for the
    training part; `success(predict)` measures attack success on the test part (None: this
    attack has no success measure), which `success_text` puts in words for the finding."""

    what: str
    poison: Callable[[float, np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray]]
    success: Callable[[Predict], float | None] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    success_text: str = "attack success {success} (clean model: {clean})"


@dataclass(frozen=True)
class RatePoint:
    """What one poisoning rate did to the retrained model."""

    rate: float
    poisoned_rows: int
    clean_accuracy: float
    accuracy_drop: float
    attack_success: float | None

    def to_dict(self, with_success: bool) -> dict[str, Any]:
        """One row of the metrics table (attack success only where the probe measures it)."""
        row: dict[str, Any] = {
            "rate": self.rate,
            "poisoned_rows": self.poisoned_rows,
            "clean_accuracy": self.clean_accuracy,
            "accuracy_drop": self.accuracy_drop,
        }
        if with_success:
            row["attack_success"] = self.attack_success
        return row


@dataclass(frozen=True)
class Sweep:
    """Every rate measured (the first point is the clean model, rate 0), and why it stopped
    early, if it did."""

    points: list[RatePoint]
    stopped: str | None = None

    @property
    def clean(self) -> RatePoint:
        """The model trained without poison."""
        return self.points[0]


class PoisoningProbe(Probe):
    """Base of `poisoning.*`: poison the training part at each rate, retrain, measure."""

    category: ClassVar[Category] = Category.POISONING
    requires: ClassVar[frozenset[str]] = frozenset({"labels", "trainable"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0020", "OWASP-ML02")
    cost: ClassVar[int] = 3
    needs_labels: ClassVar[bool] = True

    @abstractmethod
    def plan(self, target: Target, ctx: ProbeContext, split: Split) -> PoisonPlan:
        """Read this probe's options and say how to poison the training part."""

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Split, plan, retrain at every rate within the time budget, and judge."""
        opts = settings(ctx)
        split = split_rows(ctx, opts.max_rows, opts.test_fraction)
        plan = self.plan(target, ctx, split)
        if target.capabilities.n_classes is None:  # a torch target learns it on first use
            target.predict(split.x_test[:1])
        recipe = recipe_for(target, ctx.params)
        result = sweep(self.name, recipe, split, plan, opts, ctx)
        return judge(self, target, ctx, recipe, plan, opts, split, result)


def settings(ctx: ProbeContext) -> Settings:
    """Shared options from ctx.params, validated (ProbeError names the bad one)."""
    p = ctx.params
    raw = p.get("rates", DEFAULT_RATES)
    try:
        rates = tuple(sorted({float(r) for r in raw}))
    except (TypeError, ValueError):
        raise ProbeError(f"rates must be a list of fractions, got {raw!r}") from None
    if not rates or rates[0] <= 0.0 or rates[-1] >= 1.0:
        raise ProbeError(f"rates must be fractions strictly between 0 and 1, got {raw!r}")
    opts = Settings(
        rates=rates,
        max_rows=int(p.get("max_rows", DEFAULT_MAX_ROWS)),
        test_fraction=float(p.get("test_fraction", DEFAULT_TEST_FRACTION)),
        min_success=float(p.get("min_success", DEFAULT_MIN_SUCCESS)),
        min_lift=float(p.get("min_lift", DEFAULT_MIN_LIFT)),
        max_drop=float(p.get("max_drop", DEFAULT_MAX_DROP)),
    )
    if opts.max_rows < MIN_ROWS:
        raise ProbeError(f"max_rows must be at least {MIN_ROWS}, got {opts.max_rows}")
    if not 0.05 <= opts.test_fraction <= 0.8:
        raise ProbeError(f"test_fraction must be in [0.05, 0.8], got {opts.test_fraction}")
    for name in ("min_success", "min_lift", "max_drop"):
        if not 0.0 <= getattr(opts, name) <= 1.0:
            raise ProbeError(f"{name} must be in [0, 1], got {getattr(opts, name)}")
    return opts


def split_rows(ctx: ProbeContext, max_rows: int, test_fraction: float) -> Split:
    """Seeded split per class (every class with two rows or more lands on both sides), then
    at most `max_rows` training rows, drawn evenly from the shuffled ones."""
    x = np.asarray(ctx.x, dtype=np.float64)
    y = np.asarray(ctx.y, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(y):
        raise ProbeError("poisoning probes need labelled rows (x and y of the same length)")
    if len(x) < MIN_ROWS or len(np.unique(y)) < 2:
        raise ProbeError(
            f"poisoning probes need at least {MIN_ROWS} labelled rows of two classes or more, "
            f"got {len(x)} rows of {len(np.unique(y))} class(es)"
        )
    rng = ctx.rng
    train, test = [], []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        k = min(max(round(len(rows) * test_fraction), 1), len(rows) - 1)
        test.append(rows[:k])
        train.append(rows[k:])
    tr, te = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    tr = tr[:max_rows]
    return Split(x[tr], y[tr], x[te], y[te])


def sweep(
    probe: str,
    recipe: TrainRecipe,
    split: Split,
    plan: PoisonPlan,
    opts: Settings,
    ctx: ProbeContext,
) -> Sweep:
    """Train the clean model, then one model per rate (same training seed, so that only the
    poison differs) in `next_rate` order, so that a short time budget still brackets the
    smallest compromising rate; stops before a rate when the time budget is spent."""
    ctx.progress(0.02, f"{probe}: training the clean model ({recipe.describe()})")
    model = _fit(probe, recipe, split.x_train, split.y_train, ctx.seed)
    clean = _measure(recipe, model, split, plan, 0.0, 0, None)
    done: dict[int, RatePoint] = {}
    while (
        i := next_rate({k: compromised(p, clean, opts) for k, p in done.items()}, opts)
    ) is not None:
        if ctx.out_of_time():
            return Sweep(_ordered(clean, done), stopped="time")
        rate = opts.rates[i]
        ctx.progress((len(done) + 1) / (len(opts.rates) + 1), f"{probe}: {rate:.0%} poisoned")
        x_p, y_p, rows = plan.poison(rate, np.random.default_rng([ctx.seed, i + 1]))
        model = _fit(probe, recipe, x_p, y_p, ctx.seed)
        done[i] = _measure(recipe, model, split, plan, rate, len(rows), clean)
    ctx.progress(1.0, f"{probe}: {len(opts.rates)} rates measured")
    return Sweep(_ordered(clean, done))


def next_rate(done: dict[int, bool], opts: Settings) -> int | None:
    """Index of the next rate to measure, given {index: compromised} so far: the largest
    rate first, then bisection between the largest safe and the smallest compromising rate
    (more poison rarely helps the model), then the rest in ascending order; None when all
    are measured."""
    n = len(opts.rates)
    if n - 1 not in done:
        return n - 1
    lo = max((i for i, hit in done.items() if not hit), default=-1) + 1
    hi = min((i for i, hit in done.items() if hit), default=n) - 1
    if lo <= hi:
        return (lo + hi) // 2
    rest = [i for i in range(n) if i not in done]
    return rest[0] if rest else None


def _ordered(clean: RatePoint, done: dict[int, RatePoint]) -> list[RatePoint]:
    """The clean point, then the measured rates in ascending order."""
    return [clean, *(done[i] for i in sorted(done))]


def _fit(probe: str, recipe: TrainRecipe, x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """recipe.fit, with a learner's own failure turned into a one-line ProbeError."""
    try:
        return recipe.fit(x, y, seed=seed)
    except RedwatchError:
        raise
    except Exception as exc:  # the learning library rejected the (poisoned) set
        raise ProbeError(
            f"{probe}: retraining ({recipe.describe()}) failed: {first_line(exc, 200)}"
        ) from None


def _measure(
    recipe: TrainRecipe,
    model: Any,
    split: Split,
    plan: PoisonPlan,
    rate: float,
    poisoned: int,
    clean: RatePoint | None,
) -> RatePoint:
    """Clean accuracy on the test part, its drop from the clean model, and attack success."""

    def predict(rows: np.ndarray) -> np.ndarray:
        return recipe.predict(model, rows)

    acc = float(np.mean(predict(split.x_test) == split.y_test))
    drop = 0.0 if clean is None else clean.clean_accuracy - acc
    success = None if plan.success is None else plan.success(predict)
    return RatePoint(rate, poisoned, acc, drop, success)


def compromised(point: RatePoint, clean: RatePoint, opts: Settings) -> bool:
    """A rate compromises the model when clean accuracy drops by `max_drop` or more, or
    attack success reaches `min_success` and exceeds the clean model's by `min_lift`."""
    if point.rate == 0.0:
        return False
    if point.accuracy_drop >= opts.max_drop:
        return True
    if point.attack_success is None:
        return False
    base = clean.attack_success or 0.0
    return point.attack_success >= opts.min_success and point.attack_success - base >= (
        opts.min_lift
    )


def severity_of(rate: float) -> Severity:
    """The less poison it takes, the worse: ≤ 1 % critical, ≤ 5 % high, ≤ 10 % medium."""
    if rate <= 0.01:
        return Severity.CRITICAL
    if rate <= 0.05:
        return Severity.HIGH
    if rate <= 0.10:
        return Severity.MEDIUM
    return Severity.LOW


def judge(
    probe: PoisoningProbe,
    target: Target,
    ctx: ProbeContext,
    recipe: TrainRecipe,
    plan: PoisonPlan,
    opts: Settings,
    split: Split,
    result: Sweep,
) -> list[Finding]:
    """Headline metrics and the rate table always; a finding at the smallest compromising
    rate, none when no measured rate compromises the model."""
    first = next((p for p in result.points if compromised(p, result.clean, opts)), None)
    with_success = plan.success is not None
    measured = result.points[1:]
    metrics: dict[str, Any] = {
        "attack": plan.what,
        "recipe": recipe.describe(),
        "samples": len(split.y_test),
        "train_rows": len(split.y_train),
        "test_rows": len(split.y_test),
        "clean_accuracy": result.clean.clean_accuracy,
        "min_rate_compromised": None if first is None else first.rate,
        "max_accuracy_drop": max((p.accuracy_drop for p in measured), default=0.0),
        **({"clean_attack_success": result.clean.attack_success} if with_success else {}),
        **(
            {"max_attack_success": max((p.attack_success or 0.0 for p in measured), default=0.0)}
            if with_success
            else {}
        ),
        "rates_done": len(measured),
        "rates_planned": len(opts.rates),
        "rates_not_measured": sorted(set(opts.rates) - {p.rate for p in measured}),
        "stopped": result.stopped,
        "max_drop": opts.max_drop,
        **({"min_success": opts.min_success, "min_lift": opts.min_lift} if with_success else {}),
        **plan.details,
        "rates": [p.to_dict(with_success) for p in result.points],
    }
    ctx.metrics.update(metrics)
    if first is None:
        return []
    severity = severity_of(first.rate)
    return [finding_for(probe, target, severity, first, result.clean, metrics, plan.success_text)]
