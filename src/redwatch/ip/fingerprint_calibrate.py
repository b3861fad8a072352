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

When the owner exposes class probabilities, a second test counts the points where the
suspect's probability vector lies within a per-point radius of the owner's (total variation
distance; the radius is a share of the closest selecting reference's distance), calibrated
the same way on the same held-out models (see ScoreCheck).
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
from redwatch.ip.signed import sha256_hex
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
SCORE_STATISTIC = "total-variation-within-radius"

LabelFn = Callable[[np.ndarray], np.ndarray]
ProbaFn = Callable[[np.ndarray], np.ndarray]


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

    def summary(self, what: str = "matching rate") -> str:
        """One line for a human: the decision, then the rate measured (named `what`)."""
        return f"{self.decision}: {self.detail(what)}"

    def detail(self, what: str = "matching rate") -> str:
        """The rate, the calibrated levels and the p-value, without the decision."""
        cal = self.calibration
        return (
            f"{what} {self.rate:.3f} ({self.matched}/{self.trials}); "
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


@dataclass(frozen=True)
class Comparison:
    """A suspect's label test and, when both sides expose probabilities, its score test; the
    suspect is "derived" when either test says so (each runs at half the alpha), otherwise
    the label test's verdict stands."""

    labels: Decision
    scores: Decision | None = None

    @property
    def decision(self) -> str:
        """derived, independent or inconclusive."""
        if self.scores is not None and self.scores.decision == DERIVED:
            return DERIVED
        return self.labels.decision

    def summary(self) -> str:
        """One line for a human: the verdict, the label test, then the score test."""
        line = f"{self.decision}: {self.labels.detail()}"
        if self.scores is not None:
            line += f" | scores: {self.scores.detail('share within the owner radius')}"
        return line

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form: the label test's fields at the top, the score test under scores."""
        return {
            **self.labels.to_dict(),
            "decision": self.decision,
            "label_decision": self.labels.decision,
            "scores": None if self.scores is None else self.scores.to_dict(),
        }


@dataclass(frozen=True)
class ScoreCheck:
    """The owner's class probabilities on the fingerprint points, a radius per point, and the
    calibration of how many points fall within their radius for held-out models."""

    probabilities: np.ndarray
    radius: np.ndarray
    calibration: Calibration

    @property
    def digest(self) -> str:
        """SHA-256 over the probabilities' shape and float64 bytes and the radii."""
        probs = np.ascontiguousarray(self.probabilities, dtype="<f8")
        head = f"{probs.shape[0]}x{probs.shape[1]}\n".encode()
        return sha256_hex(head + probs.tobytes() + np.asarray(self.radius, "<f8").tobytes())

    def close(self, probabilities: np.ndarray) -> int:
        """Points where a model's probabilities lie strictly within the radius of the owner's."""
        return within(self.probabilities, self.radius, probabilities)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the fingerprint file's optional `scores`)."""
        return {
            "statistic": SCORE_STATISTIC,
            "sha256": self.digest,
            "calibration": self.calibration.to_dict(),
            "radius": [float(r) for r in self.radius],
            "probabilities": self.probabilities.tolist(),
        }

    @classmethod
    def from_dict(cls, raw: Any, n_points: int) -> ScoreCheck:
        """Inverse of to_dict; DataError naming the first problem."""
        try:
            check = cls(
                np.asarray(raw["probabilities"], dtype=np.float64),
                np.asarray(raw["radius"], dtype=np.float64),
                Calibration.from_dict(raw["calibration"]),
            )
            statistic, digest = raw["statistic"], raw["sha256"]
        except (KeyError, TypeError, ValueError):
            raise DataError("malformed fingerprint scores") from None
        if statistic != SCORE_STATISTIC:
            raise DataError(f"unknown fingerprint score statistic {statistic!r}")
        probs = check.probabilities
        if probs.ndim != 2 or probs.shape[0] != n_points or check.radius.shape != (n_points,):
            raise DataError("fingerprint scores do not match the points")
        if not np.all(np.isfinite(probs)) or digest != check.digest:
            raise DataError("fingerprint scores do not match their sha256 (file was modified)")
        return check


def tv_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-row total variation distance between two sets of probability vectors."""
    return np.asarray(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=1), dtype=np.float64)


def score_check(
    points: np.ndarray,
    owner: np.ndarray,
    selecting: Sequence[ProbaFn],
    references: Sequence[tuple[str, ProbaFn]],
    controls: Sequence[tuple[str, ProbaFn]],
    *,
    factor: float,
    alpha: float,
    confidence: float,
) -> ScoreCheck:
    """Radii from the selecting references (factor x the closest one's distance per point),
    then the held-out references' and controls' counts of points within them."""
    radius = factor * np.min([tv_distance(owner, fn(points)) for fn in selecting], axis=0)
    n = len(points)

    def count(name: str, fn: ProbaFn) -> ReferenceAgreement:
        return ReferenceAgreement(name, within(owner, radius, fn(points)), n)

    refs = [count(name, fn) for name, fn in references]
    derived = [count(name, fn) for name, fn in controls]
    return ScoreCheck(owner, radius, calibration_from(refs, derived, alpha, confidence))


def within(owner: np.ndarray, radius: np.ndarray, probabilities: np.ndarray) -> int:
    """Points where a model's probabilities lie strictly within the radius of the owner's."""
    return int(np.sum(tv_distance(owner, probabilities) < radius))


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
    derived = [agreement(name, labels, fn(points)) for name, fn in controls]
    return calibration_from(refs, derived, alpha, confidence)


def calibration_from(
    references: Sequence[ReferenceAgreement],
    derived: Sequence[ReferenceAgreement],
    alpha: float,
    confidence: float,
) -> Calibration:
    """Null rate and derived floor from counts measured on held-out models."""
    floor = min(lower_bound(r.agreed, r.trials, confidence) for r in derived)
    return Calibration(
        estimate_null(references, confidence), tuple(derived), floor, alpha, confidence
    )


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


def proba_fn(model: Any, n_classes: int, input_shape: tuple[int, ...] | None = None) -> ProbaFn:
    """Probabilities over the owner's n_classes class indices from a trained model (columns
    placed by the model's classes_, so a reference that never saw a class gets 0 there)."""

    def run(points: np.ndarray) -> np.ndarray:
        if hasattr(model, "predict_proba"):
            raw = np.asarray(model.predict_proba(points), dtype=np.float64)
            cols = np.asarray(getattr(model, "classes_", np.arange(raw.shape[1])), dtype=np.int64)
            if raw.ndim != 2 or len(cols) != raw.shape[1] or np.any(cols >= n_classes):
                raise DataError(f"a reference model's classes do not fit {n_classes} classes")
            out = np.zeros((len(points), n_classes))
            out[:, cols] = raw
            return out
        import torch

        model.eval()
        x = torch.as_tensor(np.asarray(points), dtype=torch.float32)
        with torch.no_grad():
            logits = model(x.reshape(len(x), *input_shape) if input_shape else x)
        return np.asarray(torch.softmax(logits, dim=1).numpy(), dtype=np.float64)

    return run


def _fit(
    model: Any, x: np.ndarray, y: np.ndarray, seed: int, input_shape: tuple[int, ...] | None
) -> Any:
    """A same-recipe model trained from scratch, quietly (convergence warnings are noise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_like(model, x, y, seed=seed, input_shape=input_shape)
