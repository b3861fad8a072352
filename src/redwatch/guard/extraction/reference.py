"""The out-of-reference signal: how often a client's queries fall outside the clean
reference data, tested against a strict binomial bound.

A query's score is its mean distance to its `k` nearest reference rows (scaled features).
The radius is the (1 - rate) quantile of the reference rows' own leave-one-out scores, so a
clean query lands outside with probability about `rate`; the null rate used by the test is
the 99.9 % Clopper-Pearson upper bound of the reference's own exceedance fraction, not the
nominal rate. A client with `n` kept queries of which `o` lie outside is flagged when
P(Binomial(n, null) >= o) < alpha; alpha is tiny (1e-6 by default) because the test runs
after every query of every client. Knockoff traffic from another distribution and synthetic
Jacobian points both land outside far more often than the null rate allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta, binom

from redwatch.exceptions import DataError

NEIGHBOURS = 5
CONFIDENCE = 0.999  # of the upper bound on the reference's own exceedance rate
_CHUNK = 512


@dataclass(frozen=True)
class ReferenceTest:
    """A fitted out-of-reference test: the reference rows (scaled), the radius, the null
    rate and the critical counts (`critical[n]` = fewest outside queries among n that
    flag; larger than n where no count can)."""

    rows: np.ndarray
    radius: float
    null_rate: float
    alpha: float
    critical: np.ndarray

    def outside(self, scaled: np.ndarray) -> np.ndarray:
        """Boolean per row: its k-NN score exceeds the radius."""
        return np.asarray(knn_scores(scaled, self.rows) > self.radius)

    def flags(self, outside: int, total: int) -> bool:
        """True when `outside` of `total` queries is too many for clean traffic."""
        n = min(total, len(self.critical) - 1)
        return total > 0 and outside >= self.critical[n]

    def p_value(self, outside: int, total: int) -> float:
        """P(Binomial(total, null) >= outside), for the event."""
        return float(binom.sf(outside - 1, total, self.null_rate))


def knn_scores(
    queries: np.ndarray, reference: np.ndarray, *, exclude_self: bool = False
) -> np.ndarray:
    """Mean distance of each query row to its NEIGHBOURS nearest reference rows, in chunks
    (with `exclude_self` the queries ARE the reference: leave-one-out scores)."""
    k = min(NEIGHBOURS, len(reference) - (1 if exclude_self else 0))
    ref_sq = (reference**2).sum(axis=1)
    out = np.empty(len(queries))
    for start in range(0, len(queries), _CHUNK):
        q = queries[start : start + _CHUNK]
        d2 = (q**2).sum(axis=1)[:, None] - 2.0 * q @ reference.T + ref_sq[None, :]
        d2 = np.maximum(d2, 0.0)
        if exclude_self:
            d2[np.arange(len(q)), np.arange(start, start + len(q))] = np.inf
        part = np.partition(d2, k - 1, axis=1)[:, :k]
        out[start : start + len(q)] = np.sqrt(part).mean(axis=1)
    return out


def fit_reference(
    scaled: np.ndarray, *, rate: float, alpha: float, max_queries: int
) -> ReferenceTest:
    """Calibrate the radius on the (already subsampled, scaled) reference rows and
    precompute the critical counts for 1..max_queries queries."""
    if len(scaled) < NEIGHBOURS + 2:
        raise DataError(
            f"stage extraction: the out-of-reference test needs at least {NEIGHBOURS + 2} "
            f"reference rows, got {len(scaled)}"
        )
    loo = knn_scores(scaled, scaled, exclude_self=True)
    radius = float(np.quantile(loo, 1.0 - rate, method="higher"))
    exceed = int(np.count_nonzero(loo > radius))
    null = float(beta.ppf(CONFIDENCE, exceed + 1, len(loo) - exceed))
    n = np.arange(max_queries + 1)
    critical = binom.isf(alpha, n, null) + 1.0
    return ReferenceTest(scaled, radius, null, alpha, np.asarray(critical))
