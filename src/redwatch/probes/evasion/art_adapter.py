"""Run an ART evasion attack against a redwatch Target and turn its output into a Finding.

ART only ever sees the Target through the estimators here, so every query is metered and
budgets hold. Attacks work in the unit box of probes/evasion/common.py:

* gradient attacks (C&W, DeepFool) get `GradientClassifier`: log-probabilities as logits
  (their differences are the logit differences these attacks use) and class gradients from
  the Target's loss gradient, zero on immutable features; rows run in chunks;
* score and label attacks (ZOO, Boundary) get an ART `BlackBoxClassifier` over one row at a
  time, seeing only the mutable features; every query is projected onto the feasible set
  before the model sees it, and the closest evasion among the queries is kept, so a query
  budget that runs out inside ART loses nothing already found.

Everything reported goes through `common.recheck` (feasibility + confirmation on the model).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from art.estimators.classification.blackbox import BlackBoxClassifier
from art.estimators.classification.classifier import ClassGradientsMixin, ClassifierMixin
from art.estimators.estimator import BaseEstimator

from redwatch.attacks.base import lp_norm
from redwatch.exceptions import QueryBudgetExceeded
from redwatch.findings import Finding
from redwatch.probes.base import ProbeContext
from redwatch.probes.evasion.common import (
    EvasionSetup,
    SweepSpec,
    epsilons_for,
    prepare,
    recheck,
    reserving,
    sized_finding,
)
from redwatch.targets.base import Target

if TYPE_CHECKING:
    from redwatch.probes.evasion.art_probes import ArtEvasionProbe

NORM = "2"  # every exposed ART attack minimises the L2 distance
_TINY = 1e-300  # floor before taking logs of probabilities
_STARTS = 5  # Boundary: nearest other-class rows and random points tried as starting points


@contextlib.contextmanager
def seeded_numpy(seed: int) -> Iterator[None]:
    """ART draws from numpy's global generator: seed it for the block, then restore it."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def n_classes(target: Target, setup: EvasionSetup) -> int:
    """Number of classes the ART estimator declares (at least 2)."""
    known = target.capabilities.n_classes
    if known is None and target.classes is not None:
        known = len(target.classes)
    return max(int(known or 0), int(setup.y.max()) + 1, 2)


def log_scores(p: np.ndarray) -> np.ndarray:
    """Log-probabilities: argmax unchanged, and differences equal logit differences."""
    return np.log(np.maximum(p, _TINY))


class Closest:
    """Per attacked row, the closest queried input (L2, unit box) that the model does not give
    the row's label, so that a query budget running out inside ART loses nothing already
    seen. Each query counts for the attacked row nearest to it: the one it was built from."""

    def __init__(self, u0: np.ndarray, y: np.ndarray) -> None:
        self.u0 = np.asarray(u0, dtype=np.float64)
        self.y = np.asarray(y)
        self.best = self.u0.copy()
        self.size = np.full(len(self.u0), np.inf)

    @property
    def found(self) -> np.ndarray:
        """Rows with at least one evasion seen."""
        return np.isfinite(self.size)

    def update(self, u: np.ndarray, labels: np.ndarray) -> None:
        """Record the queried rows u (unit box) and the labels the model gave them."""
        sq = (u**2).sum(axis=1)[:, None] + (self.u0**2).sum(axis=1)[None, :] - 2 * u @ self.u0.T
        owner = sq.argmin(axis=1)
        size = np.sqrt(np.maximum(sq[np.arange(len(u)), owner], 0.0))
        fooled = labels != self.y[owner]
        for j in np.unique(owner[fooled]):
            mine = np.flatnonzero(fooled & (owner == j))
            k = mine[size[mine].argmin()]
            if size[k] < self.size[j]:
                self.best[j], self.size[j] = u[k], size[k]


class GradientClassifier(ClassGradientsMixin, ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """An ART classifier over a Target with scores and gradients, in the unit box."""

    estimator_params = BaseEstimator.estimator_params + ClassifierMixin.estimator_params

    def __init__(self, target: Target, setup: EvasionSetup, k: int) -> None:
        super().__init__(model=None, clip_values=(0.0, 1.0))
        self._target = target
        self._setup = setup
        self.nb_classes = k
        self.closest: Closest | None = None  # set per chunk of attacked rows

    def _clipped(self, u: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(u, dtype=np.float64).reshape(len(u), -1), 0.0, 1.0)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One flattened row."""
        return (self._setup.spec.n_features,)

    def predict(self, x: np.ndarray, batch_size: int = 128, **kwargs: Any) -> np.ndarray:
        """Log-probabilities from the metered Target; evasions among them are remembered."""
        u = self._clipped(x)
        p = self._target.predict_proba(self._setup.from_unit(u))
        if self.closest is not None:
            self.closest.update(u, p.argmax(axis=1))
        return log_scores(p)

    def class_gradient(
        self, x: np.ndarray, label: int | list[int] | np.ndarray | None = None, **kwargs: Any
    ) -> np.ndarray:
        """d log p_k / d u = -(loss gradient for label k) x feature range, masked.

        Shape (n, 1, d) for one label (or one per row), (n, K, d) for all classes."""
        feats = self._setup.from_unit(self._clipped(x))
        n = len(feats)
        if label is None:
            labels = [np.full(n, k) for k in range(self.nb_classes)]
        elif np.ndim(label) == 0:
            labels = [np.full(n, int(np.asarray(label)))]
        else:
            labels = [np.asarray(label, dtype=np.int64).reshape(n)]
        scale = self._setup.spec.scale * self._setup.mask
        grads = [-self._target.loss_gradient(feats, y) * scale for y in labels]
        return np.stack(grads, axis=1).astype(np.float32)

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> None:
        """Not supported: redwatch never trains through ART."""
        raise NotImplementedError


class WholeBatchClassifier(BlackBoxClassifier):  # type: ignore[misc]
    """ART's BlackBoxClassifier, but one predict_fn call per predict: ZOO asks for batches of
    one row, which would turn each of its query batches into hundreds of model calls."""

    def predict(self, x: np.ndarray, batch_size: int = 128, **kwargs: Any) -> np.ndarray:
        """Predictions for all rows of x in one call."""
        return super().predict(x, batch_size=max(len(x), 1), **kwargs)


class RowOracle:
    """One attacked row as a black-box ART attack sees it: its mutable features in the unit
    box. Each query is completed with the row's fixed features, made feasible, sent to the
    Target, and checked; the closest feasible evasion (L2, unit box) is remembered."""

    def __init__(self, target: Target, setup: EvasionSetup, row: int, scores: bool) -> None:
        self.target = target
        self.setup = setup
        self.scores = scores
        self.k = n_classes(target, setup)
        self.x0 = setup.x[row : row + 1]
        self.u0 = setup.to_unit(self.x0)[0]
        self.y = int(setup.y[row])
        self.closest = Closest(self.u0[None, :], np.array([self.y]))

    @property
    def best(self) -> np.ndarray | None:
        """Full unit-box row of the closest feasible evasion seen, or None."""
        return self.closest.best[0] if self.closest.found[0] else None

    @property
    def v0(self) -> np.ndarray:
        """The row's mutable features in the unit box (what ART attacks)."""
        return self.u0[self.setup.mask]

    def features(self, v: np.ndarray) -> np.ndarray:
        """Mutable unit-box values -> feasible rows in feature units."""
        v = np.asarray(v, dtype=np.float64).reshape(len(v), -1)
        u = np.repeat(self.u0[None, :], len(v), axis=0)
        u[:, self.setup.mask] = v
        return self.setup.spec.project(self.setup.from_unit(u), np.repeat(self.x0, len(v), 0))

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """ART's predict_fn: log-probabilities (scores) or one-hot labels."""
        x = self.features(v)
        if self.scores:
            p = self.target.predict_proba(x)
            labels, out = p.argmax(axis=1), log_scores(p)
        else:
            labels = self.target.predict(x)
            out = np.eye(self.k)[np.clip(labels, 0, self.k - 1)]
        self.closest.update(self.setup.to_unit(x), labels)
        return out

    def estimator(self) -> Any:
        """An ART BlackBoxClassifier whose every prediction goes through this oracle."""
        return WholeBatchClassifier(
            self, (int(self.setup.mask.sum()),), self.k, clip_values=(0.0, 1.0)
        )


@dataclass
class Outcome:
    """What the attack phase produced for the attacked rows."""

    u_adv: np.ndarray  # unit box, one row per attacked row (the original where nothing found)
    queries: list[int] = field(default_factory=list)  # per row (black-box) or per chunk
    attacked: int = 0  # rows the attack finished (or was cut short on)
    stopped: str | None = None  # "budget" | "time" when cut short


def _attack_gradient(
    probe: ArtEvasionProbe,
    target: Target,
    ctx: ProbeContext,
    setup: EvasionSetup,
    rows: np.ndarray,
    settings: Mapping[str, float],
) -> Outcome:
    """Run a gradient attack chunk by chunk. Each row keeps the closest evasion the model
    confirmed among the attack's queries and its output, so a budget that runs out
    mid-chunk keeps what was found."""
    u0, y = setup.to_unit(setup.x[rows]), setup.y[rows]
    out = Outcome(u0.copy())
    model = GradientClassifier(target, setup, n_classes(target, setup))
    attack = probe.build_attack(model, settings)
    step = int(settings["batch_size"])
    for start in range(0, len(rows), step):
        if ctx.out_of_time():
            out.stopped = "time"
            break
        ctx.progress(start / len(rows), f"{probe.attack_label}: rows {start}-{start + step}")
        chunk = slice(start, start + step)
        model.closest = seen = Closest(u0[chunk], y[chunk])
        adv, q0 = u0[chunk], target.queries
        try:
            adv = np.clip(attack.generate(u0[chunk].astype(np.float32), y=y[chunk]), 0.0, 1.0)
            model.predict(adv)  # ART's output joins the candidates (DeepFool's overshoot)
        except QueryBudgetExceeded:
            out.stopped = "budget"
        out.queries.append(target.queries - q0)
        out.u_adv[chunk] = np.where(seen.found[:, None], seen.best, adv)
        out.attacked += len(adv)
        if out.stopped:
            break
    return out


def _start_for(
    oracle: RowOracle, setup: EvasionSetup, rng: np.random.Generator
) -> np.ndarray | None:
    """A feasible starting point of another class for a decision-based attack: the nearest
    sample rows of other classes, then random points, checked in one batch of queries."""
    u_all = setup.to_unit(setup.x)
    other = np.flatnonzero(setup.y != oracle.y)
    order = other[np.argsort(lp_norm(u_all[other] - oracle.u0, NORM))][:_STARTS]
    noise = rng.random((_STARTS, len(oracle.u0)))
    candidates = np.concatenate([u_all[order], noise])[:, setup.mask]
    oracle(candidates)
    return None if oracle.best is None else oracle.best[setup.mask]


def _attack_one(
    probe: ArtEvasionProbe,
    oracle: RowOracle,
    setup: EvasionSetup,
    rng: np.random.Generator,
    settings: Mapping[str, float],
) -> None:
    """Run the black-box attack on one row; results stay in the oracle."""
    attack = probe.build_attack(oracle.estimator(), settings)
    y = np.array([oracle.y])
    if probe.mode == "labels":
        start = _start_for(oracle, setup, rng)
        if start is None:
            return  # no feasible input of another class found: nothing to walk from
        attack.generate(oracle.v0[None, :].astype(np.float32), y=y, x_adv_init=start[None, :])
    else:
        attack.generate(oracle.v0[None, :].astype(np.float32), y=y)


def _attack_rows(
    probe: ArtEvasionProbe,
    target: Target,
    ctx: ProbeContext,
    setup: EvasionSetup,
    rows: np.ndarray,
    settings: Mapping[str, float],
) -> Outcome:
    """Run a black-box attack row by row, each within `max_queries`; stop when the
    probe's budget or time is spent."""
    out = Outcome(setup.to_unit(setup.x[rows]))
    rng, per_row = ctx.rng, int(settings["max_queries"])
    for i, row in enumerate(rows):
        left = target.remaining  # the probe's own budget, before this row's cap
        out.stopped = "time" if ctx.out_of_time() else "budget" if left == 0 else None
        if out.stopped:
            break
        ctx.progress(i / len(rows), f"{probe.attack_label}: row {i + 1} of {len(rows)}")
        oracle = RowOracle(target, setup, int(row), scores=probe.mode == "scores")
        q0, cut = target.queries, False
        try:
            with target.limit(per_row):
                _attack_one(probe, oracle, setup, rng, settings)
        except QueryBudgetExceeded:
            cut = True
        out.queries.append(target.queries - q0)
        out.attacked += 1
        if oracle.best is not None:
            out.u_adv[i] = oracle.best
        if cut and left is not None and left <= per_row:  # the probe's budget ran out
            out.stopped = "budget"
            break
    return out


def run_art_probe(probe: ArtEvasionProbe, target: Target, ctx: ProbeContext) -> list[Finding]:
    """Attack the correctly classified sample rows, confirm, and report the L2 curve."""
    settings = probe.settings(ctx.params)
    setup = prepare(target, ctx, default_samples=int(settings["samples"]))
    epsilons_for(setup, NORM, ctx)  # bad epsilon options fail before any query is spent
    rows = np.flatnonzero(setup.correct)
    if len(rows) == 0:
        return []
    queries0 = target.queries
    run = _attack_gradient if probe.mode == "gradients" else _attack_rows
    with seeded_numpy(ctx.seed), reserving(target, len(rows)):
        outcome = run(probe, target, ctx, setup, rows, settings)
    metrics: dict[str, Any] = {
        "queries": target.queries - queries0,
        "rows_attacked": outcome.attacked,
        "stopped": outcome.stopped,
        "attack_settings": settings,
    }
    if probe.black_box and outcome.queries:
        metrics["median_queries_per_sample"] = float(np.median(outcome.queries))
        metrics["max_queries_per_sample"] = int(settings["max_queries"])
    return _report(probe, target, ctx, setup, rows, outcome, metrics)


def _report(
    probe: ArtEvasionProbe,
    target: Target,
    ctx: ProbeContext,
    setup: EvasionSetup,
    rows: np.ndarray,
    outcome: Outcome,
    metrics: dict[str, Any],
) -> list[Finding]:
    """Confirm the evasions on the model, build the robustness curve from their sizes."""
    x_adv, fooled = recheck(target, setup, outcome.u_adv, rows)
    ctx.metrics.update({k: v for k, v in metrics.items() if k != "attack_settings"})
    spec = SweepSpec(probe.name, probe.references, probe.attack_label, probe.black_box, NORM)
    finding, sizes = sized_finding(target, ctx, setup, spec, rows, x_adv, fooled, metrics)
    found = sizes[np.isfinite(sizes)]
    ctx.metrics["median_norm"] = float(np.median(found)) if len(found) else 0.0
    ctx.metrics["success_rate_any_size"] = float(fooled[rows].mean())
    return [] if finding is None else [finding]
