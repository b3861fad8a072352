"""Fake-profile (shilling) detection in interaction data: score every account, find the
items a group of suspicious accounts pushes or nukes, link the accounts that hit the same
target inside a short time burst, and flag whole clusters (every row of every account).

1. Suspicion per account: the mean of robust z-scores of RDMA, WDMA, low item popularity
   and low PCA-VarSelect contribution (see shilling_features).
2. Target items: for each item and extreme rating (the scale's maximum or minimum), a
   hypergeometric test of how over-represented the most suspicious accounts are among the
   accounts giving it; significant after a Bonferroni correction, with suspicious accounts
   making up at least half of those ratings (target-item focus) = a target.
3. Clusters: accounts above a milder suspicion bar that gave a target its extreme rating,
   linked when their ratings of it form a time burst (a chain of at least `min_cluster`
   ratings, each within `window_seconds` of the previous); for a target without any burst,
   the accounts above the strict bar (an attack spread out in time). A cluster of at
   least `min_cluster` accounts whose median suspicion clears the strict bar is flagged.
The attack size is never needed: the bars are quantiles of the accounts' own scores.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import hypergeom

from redwatch.data.flags import DetectorReport, RowFlag
from redwatch.data.interactions import Interactions
from redwatch.data.shilling_features import RatingMatrix, robust_z, user_features

NAME = "shilling"
# feature -> direction in which fake profiles lie
SCORED = {"rdma": 1.0, "wdma": 1.0, "popularity": -1.0, "pca_contribution": -1.0}
Z_FLOOR = -3.0


@dataclass(frozen=True)
class ShillingOptions:
    """Time window of a burst, the suspicion quantiles (strict: target test and cluster
    verdict; mild: cluster membership), smallest cluster, significance level, the share
    of a target's extreme ratings that must come from suspicious accounts, seed."""

    window_seconds: float = 86_400.0
    strict_quantile: float = 0.90
    member_quantile: float = 0.80
    min_cluster: int = 3
    alpha: float = 1e-3
    min_focus: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class TargetItem:
    """An item (code) and the extreme rating suspicious accounts give it unusually often."""

    item: int
    rating: float
    raters: int
    suspicious: int
    p_value: float


@dataclass(frozen=True)
class Cluster:
    """Accounts (codes) that hit the same target(s) within one burst."""

    users: tuple[int, ...]
    targets: tuple[TargetItem, ...]
    start: float
    end: float
    suspicion: float


def suspicion(features: dict[str, np.ndarray]) -> np.ndarray:
    """One score per account: the mean robust z-score of the scored features, each turned
    so that higher is more fake-like and floored so one feature cannot cancel the rest."""
    parts = [np.maximum(sign * robust_z(features[n]), Z_FLOOR) for n, sign in SCORED.items()]
    return np.asarray(np.mean(parts, axis=0))


def find_targets(
    data: Interactions, strict: np.ndarray, options: ShillingOptions
) -> list[TargetItem]:
    """Items whose extreme ratings come from strictly suspicious accounts far more often
    than chance allows (hypergeometric tail, Bonferroni over every item and extreme) and
    mostly from them (share >= min_focus: a pushed item, not a popular one that a
    bandwagon profile also rates)."""
    found: list[TargetItem] = []
    extremes = sorted({float(data.ratings.max()), float(data.ratings.min())})
    for value in extremes:
        rows = data.ratings == value
        raters = np.bincount(data.items[rows], minlength=len(data.item_ids))
        hits = np.bincount(data.items[rows], strict[data.users[rows]], len(data.item_ids))
        p = hypergeom.sf(hits - 1, len(strict), int(strict.sum()), raters)
        focus = hits / np.maximum(raters, 1)
        significant = (p < _level(data, options)) & (hits >= options.min_cluster)
        for item in np.flatnonzero(significant & (focus >= options.min_focus)):
            found.append(
                TargetItem(int(item), value, int(raters[item]), int(hits[item]), float(p[item]))
            )
    return found


def build_clusters(
    data: Interactions, targets: list[TargetItem], score: np.ndarray, options: ShillingOptions
) -> list[Cluster]:
    """Link the mildly suspicious accounts that gave the same target its extreme rating
    inside one time burst, and the strictly suspicious ones outside every burst when they
    are still a significant group (an attack spread out in time). Keep the components that
    are big and suspicious enough."""
    mild = score >= np.quantile(score, options.member_quantile)
    strict_bar = float(np.quantile(score, options.strict_quantile))
    parent = np.arange(len(score))
    window: dict[int, list[float]] = {}
    hits: dict[int, list[TargetItem]] = {}
    for target in targets:
        rows = np.flatnonzero((data.items == target.item) & (data.ratings == target.rating))
        rows = rows[np.argsort(data.timestamps[rows], kind="stable")]
        chains = _bursts(data, rows[mild[data.users[rows]]], options)
        rest = np.setdiff1d(rows, np.concatenate(chains)) if chains else rows
        spread = _spread(data.users[rest], score >= strict_bar, _level(data, options))
        for members in [*(data.users[c] for c in chains), spread]:
            for a, b in itertools.pairwise(members):
                _union(parent, int(a), int(b))
        for row in np.concatenate([*chains, rest[np.isin(data.users[rest], spread)]]):
            window.setdefault(int(data.users[row]), []).append(float(data.timestamps[row]))
            hits.setdefault(int(data.users[row]), []).append(target)
    return _verdicts(parent, window, hits, score, strict_bar, options.min_cluster)


def detect_shilling(data: Interactions, options: ShillingOptions | None = None) -> DetectorReport:
    """Score, find targets, cluster and flag every row of every account in a flagged
    cluster; metrics list the flagged users and the clusters with their targets."""
    options = options or ShillingOptions()
    matrix = RatingMatrix.of(data)
    score = suspicion(user_features(matrix, options.seed))
    strict = score >= np.quantile(score, options.strict_quantile)
    targets = find_targets(data, strict, options)
    clusters = build_clusters(data, targets, score, options)
    flags = _row_flags(data, clusters, score)
    return DetectorReport(NAME, tuple(flags), _metrics(data, targets, clusters))


def _bursts(data: Interactions, rows: np.ndarray, options: ShillingOptions) -> list[np.ndarray]:
    """The bursts among time-sorted rows: chains of at least min_cluster ratings, each
    within window_seconds of the one before."""
    breaks = np.flatnonzero(np.diff(data.timestamps[rows]) > options.window_seconds) + 1
    return [c for c in np.split(rows, breaks) if len(c) >= options.min_cluster]


def _spread(users: np.ndarray, strict: np.ndarray, level: float) -> np.ndarray:
    """The strictly suspicious accounts among `users` (a target's raters outside every
    burst) when they are over-represented beyond chance at `level`; else none."""
    hits = int(strict[users].sum())
    p = hypergeom.sf(hits - 1, len(strict), int(strict.sum()), len(users)) if hits else 1.0
    return users[strict[users]] if p < level else users[:0]


def _level(data: Interactions, options: ShillingOptions) -> float:
    """Significance level per test: alpha over every item and both extreme ratings."""
    return options.alpha / (2 * len(data.item_ids))


def _union(parent: np.ndarray, a: int, b: int) -> None:
    """Union-find: join the components of a and b."""
    parent[_root(parent, a)] = _root(parent, b)


def _root(parent: np.ndarray, a: int) -> int:
    """Union-find: the component representative of a (with path halving)."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = int(parent[a])
    return a


def _verdicts(
    parent: np.ndarray,
    window: dict[int, list[float]],
    hits: dict[int, list[TargetItem]],
    score: np.ndarray,
    strict_bar: float,
    min_cluster: int,
) -> list[Cluster]:
    """Components of at least min_cluster accounts with median suspicion >= strict_bar."""
    groups: dict[int, list[int]] = {}
    for user in sorted(window):
        groups.setdefault(_root(parent, user), []).append(user)
    clusters = []
    for members in groups.values():
        median = float(np.median(score[members]))
        if len(members) < min_cluster or median < strict_bar:
            continue
        shared = {t for u in members for t in hits[u]}
        per_target = {t: sum(t in hits[u] for u in members) for t in shared}
        targets = tuple(sorted((t for t, n in per_target.items() if n >= 2), key=_target_key))
        times = [t for u in members for t in window[u]]
        clusters.append(Cluster(tuple(members), targets, min(times), max(times), median))
    return sorted(clusters, key=lambda c: (-len(c.users), c.users[0]))


def _target_key(target: TargetItem) -> tuple[float, int]:
    """Most significant target first."""
    return (target.p_value, target.item)


def _row_flags(data: Interactions, clusters: list[Cluster], score: np.ndarray) -> list[RowFlag]:
    """One flag per interaction row of a flagged account; score = the account's suspicion
    percentile among all accounts."""
    rank = np.argsort(np.argsort(score, kind="stable"), kind="stable") / max(len(score) - 1, 1)
    member: dict[int, str] = {}
    for number, cluster in enumerate(clusters):
        items = ", ".join(
            f"item {data.item_id(t.item)} rated {t.rating:g}" for t in cluster.targets
        )
        for user in cluster.users:
            member[user] = (
                f"shilling: account {data.user_id(user)} in cluster {number} "
                f"({len(cluster.users)} accounts; {items}); suspicion {score[user]:.2f}"
            )
    rows = np.flatnonzero(np.isin(data.users, list(member)))
    return [
        RowFlag(int(r), float(rank[data.users[r]]), (member[int(data.users[r])],)) for r in rows
    ]


def _metrics(
    data: Interactions, targets: list[TargetItem], clusters: list[Cluster]
) -> dict[str, Any]:
    """Plain-JSON figures: accounts, flagged users, targets and clusters."""
    users = sorted({u for c in clusters for u in c.users})
    return {
        "users": len(data.user_ids),
        "items": len(data.item_ids),
        "flagged_users": [data.user_id(u) for u in users],
        "targets": [_target_dict(data, t) for t in sorted(targets, key=_target_key)],
        "clusters": [_cluster_dict(data, c) for c in clusters],
    }


def _target_dict(data: Interactions, target: TargetItem) -> dict[str, Any]:
    """A target item as JSON."""
    return {
        "item": data.item_id(target.item),
        "rating": target.rating,
        "raters": target.raters,
        "suspicious_raters": target.suspicious,
        "p_value": target.p_value,
    }


def _cluster_dict(data: Interactions, cluster: Cluster) -> dict[str, Any]:
    """A cluster as JSON: accounts, targets, time span, median suspicion."""
    return {
        "accounts": len(cluster.users),
        "users": [data.user_id(u) for u in cluster.users],
        "targets": [_target_dict(data, t) for t in cluster.targets],
        "start": cluster.start,
        "end": cluster.end,
        "suspicion": round(cluster.suspicion, 4),
    }
