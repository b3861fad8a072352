"""ROC figures of a membership-inference attack: AUC with a bootstrap interval, the true
positive rate at a fixed low false positive rate with a Clopper–Pearson interval, and ROC
points on a log-spaced FPR grid (the low-FPR end is what matters: Carlini et al. 2022).

Scores are "higher means member". Ties between a member and a non-member count one half."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import beta, rankdata

from redwatch.exceptions import UsageError

DEFAULT_FPRS = (0.001, 0.01)
CONFIDENCE = 0.95
BOOTSTRAP = 200


@dataclass(frozen=True)
class TprAtFpr:
    """TPR at a target FPR: the threshold is the strictest that keeps the non-members' false
    positive rate at or below `fpr`; `achieved_fpr` is the rate it really has there."""

    fpr: float
    tpr: float
    low: float
    high: float
    hits: int
    members: int
    achieved_fpr: float
    non_members: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "fpr": self.fpr,
            "tpr": self.tpr,
            "ci": [self.low, self.high],
            "hits": self.hits,
            "members": self.members,
            "achieved_fpr": self.achieved_fpr,
            "non_members": self.non_members,
        }


@dataclass(frozen=True)
class RocSummary:
    """Everything an audit reports about one attack: AUC (bootstrap CI), TPR at the low FPRs
    (Clopper–Pearson CI) and the ROC on a log-spaced FPR grid."""

    auc: float
    auc_low: float
    auc_high: float
    at: tuple[TprAtFpr, ...]
    points: tuple[tuple[float, float], ...]

    def tpr_at(self, fpr: float) -> TprAtFpr:
        """The TPR entry for this FPR (UsageError when it was not measured)."""
        for entry in self.at:
            if abs(entry.fpr - fpr) < 1e-12:
                return entry
        raise UsageError(f"TPR at FPR {fpr} was not measured")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "auc": self.auc,
            "auc_ci": [self.auc_low, self.auc_high],
            "tpr_at_fpr": [a.to_dict() for a in self.at],
            "roc": [{"fpr": f, "tpr": t} for f, t in self.points],
        }


def auc(members: np.ndarray, non_members: np.ndarray) -> float:
    """Area under the ROC curve: P(member score > non-member score), ties counted 1/2."""
    m, n = _check(members, non_members)
    ranks = rankdata(np.concatenate([m, n]))
    return float((ranks[: len(m)].sum() - len(m) * (len(m) + 1) / 2) / (len(m) * len(n)))


def auc_interval(
    members: np.ndarray,
    non_members: np.ndarray,
    *,
    rounds: int = BOOTSTRAP,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC, resampling members and non-members apart
    (the attack's scores are fixed; the interval covers the choice of evaluated rows)."""
    m, n = _check(members, non_members)
    rng = np.random.default_rng(seed)
    values = [
        auc(m[rng.integers(0, len(m), len(m))], n[rng.integers(0, len(n), len(n))])
        for _ in range(rounds)
    ]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def threshold_at(non_members: np.ndarray, fpr: float) -> float:
    """The smallest threshold t such that the share of non-members scoring strictly above t
    is at most `fpr` (with fewer than 1/fpr non-members: above every non-member)."""
    if not 0.0 < fpr < 1.0:
        raise UsageError(f"false positive rate must be in (0, 1), got {fpr}")
    ordered = np.sort(np.asarray(non_members, dtype=np.float64))[::-1]
    allowed = int(np.floor(fpr * len(ordered) + 1e-9))
    return float(ordered[min(allowed, len(ordered) - 1)])


def tpr_at_fpr(
    members: np.ndarray, non_members: np.ndarray, fpr: float, confidence: float = CONFIDENCE
) -> TprAtFpr:
    """TPR at the threshold chosen on the non-members for this FPR. The Clopper–Pearson
    interval covers the binomial sampling of the members given that threshold; it does not
    include the uncertainty of the threshold itself, which `achieved_fpr` and `non_members`
    let a reader judge (below 1/fpr non-members the threshold lies above all of them)."""
    m, n = _check(members, non_members)
    t = threshold_at(n, fpr)
    hits = int(np.sum(m > t))
    low, high = clopper_pearson(hits, len(m), confidence)
    return TprAtFpr(fpr, hits / len(m), low, high, hits, len(m), float(np.mean(n > t)), len(n))


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided exact (Clopper–Pearson) interval of a binomial proportion k / n."""
    if n <= 0 or not 0 <= k <= n:
        raise UsageError(f"cannot bound {k} successes in {n} trials")
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1.0 - tail, k + 1, n - k))
    return low, high


def log_grid(n_non_members: int, points: int = 25, lowest: float = 1e-4) -> np.ndarray:
    """Log-spaced FPRs from max(lowest, 1/n) to 1: the x-axis of a log-scale ROC plot."""
    start = max(lowest, 1.0 / max(n_non_members, 1))
    return np.unique(np.geomspace(start, 1.0, points))


def roc_points(
    members: np.ndarray, non_members: np.ndarray, grid: np.ndarray
) -> tuple[tuple[float, float], ...]:
    """(FPR, TPR) pairs at each grid FPR, thresholds chosen on the non-members as above."""
    m, n = _check(members, non_members)
    out = []
    for fpr in grid:
        if fpr >= 1.0:
            out.append((1.0, 1.0))
            continue
        t = threshold_at(n, float(fpr))
        out.append((float(np.mean(n > t)), float(np.mean(m > t))))
    return tuple(out)


def summarize(
    members: np.ndarray,
    non_members: np.ndarray,
    *,
    fprs: tuple[float, ...] = DEFAULT_FPRS,
    rounds: int = BOOTSTRAP,
    seed: int = 0,
    points: int = 25,
) -> RocSummary:
    """AUC with its bootstrap interval, TPR at each FPR in `fprs`, and `points` ROC points."""
    m, n = _check(members, non_members)
    low, high = auc_interval(m, n, rounds=rounds, seed=seed)
    at = tuple(tpr_at_fpr(m, n, f) for f in fprs)
    return RocSummary(auc(m, n), low, high, at, roc_points(m, n, log_grid(len(n), points)))


def _check(members: np.ndarray, non_members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite 1-d float arrays, both non-empty (UsageError otherwise)."""
    m = np.asarray(members, dtype=np.float64).ravel()
    n = np.asarray(non_members, dtype=np.float64).ravel()
    if len(m) == 0 or len(n) == 0:
        raise UsageError("an ROC needs at least one member and one non-member score")
    if not (np.isfinite(m).all() and np.isfinite(n).all()):
        raise UsageError("membership scores must be finite")
    return m, n
