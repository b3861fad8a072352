"""PRADA (Juuti et al., 2019): per client, the minimum L2 distance from each new query to
the client's earlier queries of the same predicted class (its growing set). Natural queries
give distances close to a normal law; synthetic ones (small steps from earlier queries, as
Jacobian augmentation makes) do not. Once `min_queries` distances are collected, a
Shapiro-Wilk test runs on them and W below the threshold flags the client.

Two choices differ from the paper, both measured in docs/guard-extraction.md: every earlier
query (within the window) is in the growing set, with no mean-minus-std admission rule (the
rule blurs the synthetic signal on the digits model), and an exact repeat of a kept query
is skipped (it tells a thief nothing new and benign clients retry). The threshold can be
calibrated: benign clients are simulated by replaying the clean reference rows, and the
lowest W they reach, widened by a safety factor, becomes the threshold. On low-dimensional data (the
three-feature credit model) natural distances are far from normal, so calibration lowers
the threshold until PRADA stays quiet there, and the out-of-reference signal does the work.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import shapiro

from redwatch.guard.extraction.history import QueryHistory

SAME = 1e-12  # a distance at or below this is an exact repeat of a kept query
CALIBRATION_STREAMS = 40  # simulated benign clients
CALIBRATION_LENGTH = 500  # queries each (at most the reference size)
CALIBRATION_POOL = 2000  # reference rows the simulated clients draw from
CALIBRATION_FACTOR = 2.0  # 1 - threshold = this x (1 - lowest benign W)


@dataclass
class ClientState:
    """One tracked client (or the pool): its history, how many queries it has had
    recorded, and when it was last flagged."""

    history: QueryHistory
    observed: int = 0
    last_event: float = -math.inf

    def young(self, min_queries: int) -> bool:
        """Too few distances for its own PRADA test."""
        return self.history.distance_count() < min_queries

    def quiet(self, now: float, window_s: float) -> bool:
        """Flagged within the last window: no new event until it has passed."""
        return now - self.last_event < window_s


@dataclass(frozen=True)
class Calibration:
    """The calibrated W threshold and the lowest W the simulated benign clients reached
    (the threshold is 0, PRADA off, where natural traffic is far from normal)."""

    threshold: float
    lowest: float
    streams: int
    length: int


def normality(distances: np.ndarray) -> float:
    """Shapiro-Wilk W of the distances; identical distances (no spread at all, which no
    natural traffic shows) count as 0, the least normal."""
    d = np.asarray(distances, dtype=np.float64)
    if len(d) < 3:
        return 1.0
    if float(np.ptp(d)) <= SAME * max(1.0, float(np.abs(d).max())):
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # scipy's own switch around its nan/axis wrapper: ten times faster per call
            return float(shapiro(d, _no_deco=True).statistic)
        except TypeError:  # a scipy without the switch
            return float(shapiro(d).statistic)


def observe(
    history: QueryHistory, row: np.ndarray, code: int, now: float, out: bool, owner: str = ""
) -> bool:
    """Measure `row` against the history's same-class queries and keep it; False (nothing
    kept) when it repeats a kept query exactly."""
    distance = history.nearest(row, code)
    if distance is not None and distance <= SAME:
        return False
    history.add(row, code, now, math.nan if distance is None else distance, out, owner)
    return True


def prada_statistic(history: QueryHistory, min_queries: int) -> tuple[float, int] | None:
    """(W, number of distances) once at least `min_queries` distances are kept, else None."""
    d = history.distances()
    if len(d) < min_queries:
        return None
    return normality(d), len(d)


def pairwise_sq(rows: np.ndarray) -> np.ndarray:
    """Squared L2 distances between all rows, computed as `observe` sees them (float32
    rows), as a float32 matrix."""
    x = np.asarray(rows, dtype=np.float32).astype(np.float64)
    sq = (x**2).sum(axis=1)
    return np.maximum(sq[:, None] - 2.0 * x @ x.T + sq[None, :], 0.0).astype(np.float32)


def stream_distances(d2: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The PRADA distances one client would produce sending rows in order, given their
    squared distance matrix `d2` (the same rule as `observe` with an unbounded history):
    repeats and first-of-class rows give none."""
    n = len(codes)
    allowed = np.tri(n, k=-1, dtype=bool) & (codes[:, None] == codes[None, :])
    nearest = np.sqrt(np.where(allowed, d2, np.inf).min(axis=1, initial=np.inf))
    return nearest[np.isfinite(nearest) & (nearest > SAME)]


def checkpoints(n: int, min_queries: int) -> list[int]:
    """Where a simulated stream is tested: densely just after `min_queries` (where W is
    noisiest), then every tenth of the way, and at the end."""
    if n < min_queries:
        return []
    points = set(range(min_queries, min(n, min_queries + 20) + 1, 2))
    points.update(range(min_queries, n + 1, max(1, n // 10)))
    points.add(n)
    return sorted(points)


def calibrate_threshold(
    rows: np.ndarray, codes: np.ndarray, min_queries: int, rng: np.random.Generator
) -> Calibration:
    """Replay the clean reference rows as CALIBRATION_STREAMS benign clients (random order,
    CALIBRATION_LENGTH queries each, drawn from at most CALIBRATION_POOL rows) and return
    the lowest W they reach, widened: 1 - threshold = CALIBRATION_FACTOR x (1 - lowest), a
    fixed step on Royston's log(1 - W) scale, where W's sampling spread is even."""
    pool = rng.permutation(len(rows))[:CALIBRATION_POOL]
    d2, pool_codes = pairwise_sq(rows[pool]), np.asarray(codes)[pool]
    length = min(len(pool), CALIBRATION_LENGTH)
    lowest = 1.0
    for _ in range(CALIBRATION_STREAMS):
        order = rng.permutation(len(pool))[:length]
        d = stream_distances(d2[np.ix_(order, order)], pool_codes[order])
        for n in checkpoints(len(d), min_queries):
            lowest = min(lowest, normality(d[:n]))
    threshold = max(0.0, 1.0 - CALIBRATION_FACTOR * (1.0 - lowest))
    return Calibration(threshold, lowest, CALIBRATION_STREAMS, length)
