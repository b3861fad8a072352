"""Calibration of an IP fingerprint: how often do independently trained models and models
derived from the owner's (copies, fine-tunes, surrogates) give the recorded labels, and what
decision does a suspect's matching rate support.

Two one-sided binomial tests on the suspect's matches k of n points:
- against the null rate (the largest Clopper-Pearson upper bound over held-out independent
  references): p < alpha -> "derived";
- against the derived floor (the smallest Clopper-Pearson lower bound over held-out derived
  controls): P(X <= k) < alpha -> "independent";
neither -> "inconclusive". The reference models and controls used here are never the ones
that chose the points.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import beta, binom

from redwatch.exceptions import DataError
from redwatch.ip.recipe import fit_like, fit_torch, predict_labels
from redwatch.ip.stats import (
    NullEstimate,
    ReferenceAgreement,
    binomial_p_value,
    estimate_null,
)

DERIVED = "derived"
INDEPENDENT = "independent"
INCONCLUSIVE = "inconclusive"
METHOD = "held-out-references"
FINE_TUNE_ROWS = 0.2  # share of the data a fine-tuning control sees
SMALL_SURROGATE_ROWS = 0.3  # share of the data the small surrogate is trained on

LabelFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Calibration:
    """Matching rates of held-out independent references and derived controls on the
    fingerprint points, and the decision levels they give."""

    null: NullEstimate
    derived: tuple[ReferenceAgreement, ...]
    derived_floor: float
    alpha: float
    confidence: float
    method: str = METHOD

    @property
    def trials(self) -> int:
        """Number of fingerprint points the rates were measured on."""
        return self.null.references[0].trials if self.null.references else 0

    @property
    def threshold(self) -> float:
        """Smallest matching rate that the null test calls "derived" at alpha."""
        n = self.trials
        k = next(
            (k for k in range(n + 1) if binomial_p_value(k, n, self.null.rate) < self.alpha), n + 1
        )
        return min(k / n, 1.0) if n else 1.0

    @property
    def separable(self) -> bool:
        """True when every derived control would itself be called "derived"."""
        return all(r.agreed / r.trials >= self.threshold for r in self.derived)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the fingerprint file's `calibration`)."""
        return {
            "method": self.method,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "null": self.null.to_dict(),
            "derived": [r.to_dict() for r in self.derived],
            "derived_floor": self.derived_floor,
            "threshold": self.threshold,
            "separable": self.separable,
            "reference_rates": [r.agreed / r.trials for r in self.null.references],
            "derived_rates": [r.agreed / r.trials for r in self.derived],
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Calibration:
        """Inverse of to_dict; DataError for another shape."""
        try:
            cal = cls(
                null=NullEstimate.from_dict(raw["null"]),
                derived=tuple(ReferenceAgreement.from_dict(r) for r in raw["derived"]),
                derived_floor=float(raw["derived_floor"]),
                alpha=float(raw["alpha"]),
                confidence=float(raw["confidence"]),
                method=str(raw.get("method", METHOD)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise DataError(f"malformed fingerprint calibration {raw!r:.80}") from None
        if not cal.null.references or not cal.derived or not 0.0 < cal.alpha < 1.0:
            raise DataError("fingerprint calibration lacks references, controls or alpha")
        return cal


@dataclass(frozen=True)
class Decision:
    """A suspect's matching rate on the fingerprint and what it supports."""

    decision: str
    matched: int
    trials: int
    p_value: float  # P(matches >= k) for an independent model
    p_independent: float  # P(matches <= k) for a model as close as the weakest control
    calibration: Calibration

    @property
    def rate(self) -> float:
        """Fraction of fingerprint points where the suspect gave the recorded label."""
        return self.matched / self.trials

    def summary(self) -> str:
        """One line for a human."""
        cal = self.calibration
        return (
            f"{self.decision}: matching rate {self.rate:.3f} ({self.matched}/{self.trials}); "
            f"independent models <= {cal.null.rate:.3f}, derived controls >= "
            f"{cal.derived_floor:.3f}; p = {self.p_value:.3g} (alpha {cal.alpha:g})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "decision": self.decision,
            "matched": self.matched,
            "trials": self.trials,
            "matching_rate": self.rate,
            "p_value": self.p_value,
            "p_independent": self.p_independent,
            "threshold": self.calibration.threshold,
            "null_rate": self.calibration.null.rate,
            "derived_floor": self.calibration.derived_floor,
            "alpha": self.calibration.alpha,
        }


def agreement(name: str, labels: np.ndarray, predicted: np.ndarray) -> ReferenceAgreement:
    """How many of the recorded labels a model reproduced."""
    return ReferenceAgreement(name, int(np.sum(predicted == labels)), len(labels))


def calibrate(
    points: np.ndarray,
    labels: np.ndarray,
    references: Sequence[tuple[str, LabelFn]],
    controls: Sequence[tuple[str, LabelFn]],
    *,
    alpha: float,
    confidence: float,
) -> Calibration:
    """Measure held-out references and derived controls on the chosen points."""
    refs = [agreement(name, labels, fn(points)) for name, fn in references]
    derived = tuple(agreement(name, labels, fn(points)) for name, fn in controls)
    floor = min(lower_bound(r.agreed, r.trials, confidence) for r in derived)
    return Calibration(estimate_null(refs, confidence), derived, floor, alpha, confidence)


def decide(cal: Calibration, matched: int, trials: int) -> Decision:
    """The decision for `matched` of `trials` points against a calibration."""
    p_value = binomial_p_value(matched, trials, cal.null.rate)
    p_independent = float(binom.cdf(matched, trials, cal.derived_floor))
    if p_value < cal.alpha:
        verdict = DERIVED
    elif p_independent < cal.alpha:
        verdict = INDEPENDENT
    else:
        verdict = INCONCLUSIVE
    return Decision(verdict, matched, trials, p_value, p_independent, cal)


def lower_bound(agreed: int, trials: int, confidence: float) -> float:
    """One-sided Clopper-Pearson lower confidence bound of a binomial proportion."""
    if agreed <= 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, agreed, trials - agreed + 1))


def derived_controls(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    owner: LabelFn,
    *,
    seed: int,
    input_shape: tuple[int, ...] | None = None,
) -> list[tuple[str, Any]]:
    """Models derived from the owner's: fine-tuned on a little clean data (when the recipe
    allows), and surrogates of the same recipe trained on the owner's labels of extraction-
    style queries (data rows and mixtures of two rows), one on all, one on a third of them.

    Queries off the data matter: where the owner is right on the data, a surrogate trained on
    its labels of data rows only is an independent model, indistinguishable by any
    fingerprint."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, Any]] = []
    rows = rng.permutation(len(x))[: max(2, round(FINE_TUNE_ROWS * len(x)))]
    tuned = fine_tune(model, x[rows], y[rows], seed=seed, input_shape=input_shape)
    if tuned is not None:
        out.append((f"fine-tuned-{seed}", tuned))
    xq = mixture_queries(x, len(x), rng)
    out.append((f"surrogate-{seed}", _fit(model, xq, owner(xq), seed, input_shape)))
    small = xq[: max(2, round(SMALL_SURROGATE_ROWS * len(x)))]
    out.append((f"surrogate-small-{seed}", _fit(model, small, owner(small), seed, input_shape)))
    return out


def mixture_queries(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n queries: half data rows, half random convex mixtures of two rows (what synthetic and
    augmentation-based extraction attacks send)."""
    half = n // 2
    rows = x[rng.integers(0, len(x), size=n - half)]
    a, b = x[rng.integers(0, len(x), size=half)], x[rng.integers(0, len(x), size=half)]
    lam = rng.random((half, 1))
    mixed: np.ndarray = np.vstack([rows, lam * a + (1.0 - lam) * b])
    return mixed[rng.permutation(n)]


def fine_tune(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    epochs: int = 2,
    input_shape: tuple[int, ...] | None = None,
) -> Any | None:
    """A copy of the owner's model trained a little further on (x, y): torch modules a few
    epochs, boosted trees a few more rounds, warm-startable sklearn models a few iterations;
    None when the model has no way to continue training."""
    kind = type(model).__name__
    if hasattr(model, "parameters") and not hasattr(model, "fit"):
        net = copy.deepcopy(model)
        return fit_torch(net, x, y, epochs=epochs, seed=seed, lr=5e-4, input_shape=input_shape)
    if kind == "XGBClassifier":
        more = copy.deepcopy(model).set_params(n_estimators=10, random_state=seed)
        return more.fit(x, y, xgb_model=model.get_booster())
    if kind == "LGBMClassifier":
        more = copy.deepcopy(model).set_params(n_estimators=10, random_state=seed)
        return more.fit(x, y, init_model=model.booster_)
    if "warm_start" in getattr(model, "get_params", dict)():
        tuned = copy.deepcopy(model).set_params(warm_start=True)
        if "max_iter" in tuned.get_params():
            tuned.set_params(max_iter=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuned.fit(x, y)
    return None


def label_fn(model: Any, input_shape: tuple[int, ...] | None = None) -> LabelFn:
    """Class indices from a trained model, unmetered."""
    return lambda points: np.asarray(predict_labels(model, points, input_shape))


def _fit(
    model: Any, x: np.ndarray, y: np.ndarray, seed: int, input_shape: tuple[int, ...] | None
) -> Any:
    """A same-recipe model trained from scratch, quietly (convergence warnings are noise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_like(model, x, y, seed=seed, input_shape=input_shape)
