"""Exact and near duplicate rows. A copy whose label differs from its twin is the
suspicious kind (a poisoned copy of a real row); a plain copy is only redundant.

Near duplicates: on standardised features, a row whose nearest neighbour lies much closer
than the data's typical nearest-neighbour distance (a fixed fraction of its median).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors

from redwatch.data.flags import DetectorReport, RowFlag

NEAR_RATIO = 0.05
CONFLICT_SCORE = 0.9
COPY_SCORE = 0.2


def standardise(x: np.ndarray) -> np.ndarray:
    """Features with zero mean and unit spread (constant columns left at zero)."""
    spread = x.std(axis=0)
    spread[spread == 0] = 1.0
    return np.asarray((x - x.mean(axis=0)) / spread)


def duplicate_groups(x: np.ndarray, near_ratio: float = NEAR_RATIO) -> tuple[np.ndarray, float]:
    """Group id per row (rows sharing an id are exact or near copies) and the distance
    threshold used; rows without a copy have a group of their own."""
    n = len(x)
    if n < 3:
        return np.arange(n), 0.0
    scaled = standardise(x)
    dist, idx = NearestNeighbors(n_neighbors=2).fit(scaled).kneighbors(scaled)
    positive = dist[:, 1][dist[:, 1] > 0]
    threshold = near_ratio * float(np.median(positive)) if len(positive) else 0.0
    pairs = dist[:, 1] <= threshold
    src, dst = np.flatnonzero(pairs), idx[pairs, 1]
    exact = _exact_pairs(x)
    src = np.concatenate([src, exact[:, 0]])
    dst = np.concatenate([dst, exact[:, 1]])
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels, threshold


def _exact_pairs(x: np.ndarray) -> np.ndarray:
    """(row, first row with identical features) for every later copy."""
    _, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    owner = first[inverse.ravel()]
    later = np.flatnonzero(owner != np.arange(len(x)))
    return np.stack([later, owner[later]], axis=1) if len(later) else np.zeros((0, 2), int)


def detect_duplicates(
    x: np.ndarray, y: np.ndarray | None, class_names: Sequence[str], near_ratio: float = NEAR_RATIO
) -> DetectorReport:
    """Flag every member of a copy group with conflicting labels, and the later members of
    a group whose labels agree (the first one stays as the row to keep)."""
    groups, threshold = duplicate_groups(x, near_ratio)
    exact = _exact_pairs(x)
    exact_rows = set(exact[:, 0].tolist()) | set(exact[:, 1].tolist())
    flags: list[RowFlag] = []
    counts = {"groups": 0, "conflicting_groups": 0}
    for members in _groups_with_copies(groups):
        counts["groups"] += 1
        flags.extend(_group_flags(members, y, class_names, exact_rows, counts))
    metrics: dict[str, Any] = {
        "near_threshold": round(threshold, 6),
        "near_ratio": near_ratio,
        "copy_groups": counts["groups"],
        "conflicting_groups": counts["conflicting_groups"],
        "flagged": len(flags),
    }
    return DetectorReport("duplicates", tuple(sorted(flags, key=lambda f: f.row)), metrics)


def _groups_with_copies(groups: np.ndarray) -> list[np.ndarray]:
    """Row indices of each group with two members or more, in file order."""
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    return [g for g in np.split(order, bounds) if len(g) > 1]


def _group_flags(
    members: np.ndarray,
    y: np.ndarray | None,
    class_names: Sequence[str],
    exact_rows: set[int],
    counts: dict[str, int],
) -> list[RowFlag]:
    """Flags for one copy group (members in file order)."""
    first = int(members[0])
    if y is not None and len(set(y[members].tolist())) > 1:
        counts["conflicting_groups"] += 1
        shown = ", ".join(f"row {int(r)}: {class_names[y[r]]}" for r in members[:6])
        return [
            RowFlag(
                int(r),
                CONFLICT_SCORE,
                (f"duplicate_conflict: {_kind(int(r), exact_rows)} copy, labels differ ({shown})",),
            )
            for r in members
        ]
    return [
        RowFlag(
            int(r), COPY_SCORE, (f"duplicate: {_kind(int(r), exact_rows)} copy of row {first}",)
        )
        for r in members[1:]
    ]


def _kind(row: int, exact_rows: set[int]) -> str:
    """The word "exact" when the row has an identical twin, else "near"."""
    return "exact" if row in exact_rows else "near"
