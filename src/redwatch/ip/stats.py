"""The statistics of an ownership claim: how often would a model that never saw the secret
agree with it (the null rate, measured on independently trained reference models), and how
unlikely is the suspect's agreement under that rate (a one-sided binomial test)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import beta, binom

from redwatch.exceptions import DataError, UsageError

RATE_FLOOR = 1e-6
RATE_CEILING = 1.0 - 1e-6
SHOWN = "ownership shown"
NOT_SHOWN = "not shown"


def binomial_p_value(successes: int, trials: int, rate: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, rate): the chance of agreeing this often
    without having seen the secret."""
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise UsageError(f"cannot test {successes} agreements in {trials} trials")
    if successes == 0:
        return 1.0
    return float(binom.sf(successes - 1, trials, rate))


def upper_bound(agreed: int, trials: int, confidence: float) -> float:
    """One-sided Clopper–Pearson upper confidence bound of a binomial proportion."""
    if agreed >= trials:
        return 1.0
    return float(beta.ppf(confidence, agreed + 1, trials - agreed))


@dataclass(frozen=True)
class ReferenceAgreement:
    """How often one independently trained model agreed with the secret labels."""

    name: str
    agreed: int
    trials: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"name": self.name, "agreed": self.agreed, "trials": self.trials}

    @classmethod
    def from_dict(cls, raw: Any) -> ReferenceAgreement:
        """Inverse of to_dict; DataError for another shape."""
        try:
            ref = cls(str(raw["name"]), int(raw["agreed"]), int(raw["trials"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"malformed reference agreement {raw!r:.80}") from None
        if ref.trials <= 0 or not 0 <= ref.agreed <= ref.trials:
            raise DataError(f"reference {ref.name}: {ref.agreed} agreements in {ref.trials}")
        return ref


@dataclass(frozen=True)
class NullEstimate:
    """The agreement rate assumed for a model that never saw the secret, and where it came
    from (`reference-models` or a fixed level such as `chance-1/K`)."""

    rate: float
    method: str
    confidence: float
    references: tuple[ReferenceAgreement, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "rate": self.rate,
            "method": self.method,
            "confidence": self.confidence,
            "references": [r.to_dict() for r in self.references],
        }

    @classmethod
    def from_dict(cls, raw: Any) -> NullEstimate:
        """Inverse of to_dict; DataError for another shape."""
        try:
            refs = tuple(ReferenceAgreement.from_dict(r) for r in raw.get("references", []))
            est = cls(float(raw["rate"]), str(raw["method"]), float(raw["confidence"]), refs)
        except (AttributeError, KeyError, TypeError, ValueError):
            raise DataError(f"malformed null estimate {raw!r:.80}") from None
        if not 0.0 < est.rate < 1.0:
            raise DataError(f"null rate must be in (0, 1), got {est.rate}")
        return est


def estimate_null(
    references: Sequence[ReferenceAgreement], confidence: float = 0.99
) -> NullEstimate:
    """The largest one-sided upper confidence bound over the reference models: one unusually
    agreeable independent model raises the bar for every suspect."""
    if not references:
        raise UsageError("the null rate needs at least one independently trained reference")
    if not 0.5 <= confidence < 1.0:
        raise UsageError(f"confidence must be in [0.5, 1), got {confidence}")
    worst = max(upper_bound(r.agreed, r.trials, confidence) for r in references)
    rate = min(max(worst, RATE_FLOOR), RATE_CEILING)
    return NullEstimate(rate, "reference-models", confidence, tuple(references))


def fixed_null(rate: float, method: str) -> NullEstimate:
    """A null rate the user or the method fixes (e.g. 1/K chance), named by `method`."""
    if not 0.0 < rate < 1.0:
        raise UsageError(f"null rate must be in (0, 1), got {rate}")
    return NullEstimate(rate, method, 1.0, ())


@dataclass(frozen=True)
class OwnershipTest:
    """The binomial test of a suspect's agreement against the null rate, and its verdict."""

    trials: int
    agreed: int
    agreement: float
    null: NullEstimate
    p_value: float
    alpha: float
    verdict: str

    @property
    def shown(self) -> bool:
        """True when the agreement is significant at alpha."""
        return self.verdict == SHOWN

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the certificate's `test`)."""
        return {
            "statistic": "one-sided binomial test of agreement",
            "trials": self.trials,
            "agreed": self.agreed,
            "agreement": self.agreement,
            "null": self.null.to_dict(),
            "p_value": self.p_value,
            "alpha": self.alpha,
            "verdict": self.verdict,
        }


def ownership_test(
    agreed: int, trials: int, null: NullEstimate, alpha: float = 1e-6
) -> OwnershipTest:
    """Test `agreed` of `trials` against the null rate; significant when p < alpha."""
    if trials <= 0:
        raise UsageError("an ownership test needs at least one trial")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must be in (0, 1), got {alpha}")
    p = binomial_p_value(agreed, trials, null.rate)
    verdict = SHOWN if p < alpha else NOT_SHOWN
    return OwnershipTest(trials, agreed, agreed / trials, null, p, alpha, verdict)
