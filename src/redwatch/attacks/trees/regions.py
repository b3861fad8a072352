"""Leaf-tuple search inside a box: the region-greedy oracle of the leaf walk's refinement.

Every leaf of a tree is an axis-aligned box of inputs. Inside the L∞ box of radius r around
x0, the search keeps a region R (a box), starting at the radius box, and repeatedly commits
one tree to a leaf: among the leaves that intersect R and improve that tree's vote for the
attacker, it tries the most promising ones at the point of R ∩ leaf nearest x0 and keeps the
one that lowers the ensemble margin most. Committed leaves stay reachable, so the search
combines moves on several features that no single-feature step would make on its own
(the leaf-tuple neighbourhood idea of Zhang et al., 2020, in a greedy form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from redwatch.attacks.trees.ensemble import TreeEnsemble

if TYPE_CHECKING:
    from redwatch.attacks.trees.leafwalk import _Walk

MAX_CELLS = 4_000_000  # leaves x features above which leaf boxes are not built
CHUNK_CELLS = 4_000_000  # rows x leaves x features compared at once
TRIES = 16  # leaves tried (exactly evaluated) per commit
STEPS = 32  # commits per search


@dataclass(frozen=True)
class LeafBoxes:
    """Closed value intervals [lo, hi] per feature of every leaf, in exact crossing values."""

    tree: np.ndarray  # (L,) tree index
    node: np.ndarray  # (L,) node index in the ensemble's padded layout
    lo: np.ndarray  # (L, d)
    hi: np.ndarray  # (L, d)


def leaf_boxes(ens: TreeEnsemble, integer: frozenset[int]) -> LeafBoxes | None:
    """The box of every leaf, or None when the ensemble is too large to hold them."""
    d = ens.n_features
    if ens.n_leaves * d > MAX_CELLS:
        return None
    trees, nodes, los, his = [], [], [], []
    for ti, t in enumerate(ens.trees):
        stack = [(0, np.full(d, -np.inf), np.full(d, np.inf))]
        while stack:
            node, lo, hi = stack.pop()
            if t.left[node] < 0:
                trees.append(ti)
                nodes.append(node)
                los.append(lo)
                his.append(hi)
                continue
            f, thr = int(t.feature[node]), np.asarray([t.threshold[node]])
            is_int = f in integer
            left_hi, right_lo = hi.copy(), lo.copy()
            left_hi[f] = min(hi[f], float(ens.left_value(thr, integer=is_int)[0]))
            right_lo[f] = max(lo[f], float(ens.right_value(thr, integer=is_int)[0]))
            stack.append((int(t.left[node]), lo, left_hi))
            stack.append((int(t.right[node]), right_lo, hi))
    return LeafBoxes(
        np.asarray(trees, dtype=np.int64),
        np.asarray(nodes, dtype=np.int64),
        np.asarray(los),
        np.asarray(his),
    )


def region_search(
    sub: _Walk, boxes: LeafBoxes, rows: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each of `rows`, greedy leaf commits inside its radius-r box. Returns (points for
    all rows of `sub`, flipped) — rows not searched keep x0 and False."""
    out = sub.x0.copy()
    flipped = np.zeros(len(out), dtype=bool)
    step = max(1, CHUNK_CELLS // max(len(boxes.tree) * sub.ens.n_features, 1))
    for s in range(0, len(rows), step):
        part = rows[s : s + step]
        out[part], flipped[part] = _search(sub, boxes, part, r[part])
    return out, flipped


def _search(
    sub: _Walk, boxes: LeafBoxes, rows: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Region greedy for a chunk of samples in lockstep; (points, flipped)."""
    spec, x0 = sub.spec, sub.x0[rows]
    reach = np.where(spec.mutable_mask, r[:, None] * spec.scale, 0.0)
    r_lo = np.maximum(x0 - reach, spec.lower)
    r_hi = np.minimum(x0 + reach, spec.upper)
    point = spec.project(np.clip(x0, r_lo, r_hi), x0)
    margin, hit = sub.evaluate(point, rows)
    live = ~hit
    for _ in range(STEPS):
        act = np.flatnonzero(live)
        if len(act) == 0:
            break
        cand, trial = _proposals(sub, boxes, rows[act], x0[act], r_lo[act], r_hi[act], point[act])
        k, c = np.nonzero(cand >= 0)
        if len(k) == 0:
            break
        m, h = sub.evaluate(trial[k, c], rows[act[k]])
        best = np.full(len(act), -1)
        order = np.lexsort((~h, m, k))
        first = np.ones(len(order), dtype=bool)
        first[1:] = k[order][1:] != k[order][:-1]
        best[k[order][first]] = order[first]
        ok = best >= 0
        ok[ok] = m[best[ok]] < margin[act[ok]]
        live[act[~ok]] = False
        sel, b = act[ok], best[ok]
        leaf = cand[k[b], c[b]]
        r_lo[sel] = np.maximum(boxes.lo[leaf], r_lo[sel])
        r_hi[sel] = np.minimum(boxes.hi[leaf], r_hi[sel])
        point[sel], margin[sel], hit[sel] = trial[k[b], c[b]], m[b], h[b]
        live &= ~hit
    return point, hit


def _proposals(
    sub: _Walk,
    boxes: LeafBoxes,
    rows: np.ndarray,
    x0: np.ndarray,
    r_lo: np.ndarray,
    r_hi: np.ndarray,
    point: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(leaf ids (a, TRIES), -1 where none; their projected trial points (a, TRIES, d)): the
    leaves meeting each region whose switch alone most improves the attacker's vote."""
    vals = sub.ens.node_values
    leaves = sub.ens.leaves(point)
    meets = np.all((boxes.lo[None] <= r_hi[:, None]) & (boxes.hi[None] >= r_lo[:, None]), axis=2)
    meets &= boxes.node[None, :] != leaves[:, boxes.tree]
    gain = _vote_gain(sub.ens.link, vals, boxes, leaves, sub.y[rows])
    gain = np.where(meets & (gain > 0), gain, -np.inf)
    n_try = min(TRIES, gain.shape[1])
    top = np.argsort(-gain, axis=1, kind="stable")[:, :n_try]
    cand = np.where(np.take_along_axis(gain, top, axis=1) > -np.inf, top, -1)
    lo = np.maximum(boxes.lo[top], r_lo[:, None])
    hi = np.minimum(boxes.hi[top], r_hi[:, None])
    trial = np.clip(x0[:, None], lo, hi)
    a, d = len(rows), x0.shape[1]
    flat = sub.spec.project(trial.reshape(a * n_try, d), np.repeat(x0, n_try, axis=0))
    return cand, flat.reshape(a, n_try, d)


def _vote_gain(
    link: str, vals: np.ndarray, boxes: LeafBoxes, leaves: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """(a, L) how much switching one tree to each leaf alone lowers the margin proxy: the
    drop of class y's output minus the best rise of another class."""
    new = vals[boxes.tree, boxes.node]  # (L, O)
    diff = new[None] - vals[boxes.tree[None, :], leaves[:, boxes.tree]]  # (a, L, O)
    if link == "logistic":
        return np.asarray(np.where(y[:, None] == 0, diff[..., 0], -diff[..., 0]))
    own = np.take_along_axis(diff, y[:, None, None], axis=2)[..., 0]
    mask = np.arange(diff.shape[2])[None, None, :] == y[:, None, None]
    return np.asarray(np.where(mask, -np.inf, diff).max(axis=2) - own)
