"""Leaf walk: a fast evasion heuristic for large tree ensembles (hundreds of trees, deep).

An ensemble's output only changes when an input crosses a split threshold, so the walk moves
from leaf region to leaf region: at each step every sample considers crossing the next one,
two or four thresholds up or down on each mutable feature (and switching each categorical or
one-hot feature), projects each candidate onto the declared constraints, scores it by the
margin it removes per unit of added perturbation, and takes the best. Samples that stall get
a leaf-tuple region search over the whole allowed box (regions.py). Once the label flips, a
shrinking pass moves coordinates back towards the original while the label stays flipped,
and refine.py tries the neighbours' evasions and bisects the L∞ radius with the region search
as its oracle, which brings voting forests close to the exact MILP radius.
All batched in numpy; the only model it evaluates is the TreeEnsemble itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from redwatch.attacks.base import AttackResult, check_norm, make_rng
from redwatch.attacks.trees.ensemble import TreeEnsemble, checked_inputs
from redwatch.attacks.trees.milp import unit_norm
from redwatch.attacks.trees.refine import box_search, neighbour_seeds
from redwatch.attacks.trees.regions import LeafBoxes, leaf_boxes, region_search
from redwatch.targets.spec import InputSpec

HOPS = (1, 2, 4, 8, 16)  # how many thresholds one candidate move crosses
SEGMENT_STEPS = 12  # bisection steps of the shrinking pass along x0 -> x_adv
CHUNK_CELLS = 8_000_000  # candidate rows x trees x features handled at once
BATCH = 256  # samples walked together (bounds the cached paths' memory)
STALL_STEPS = 8  # steps without a lower margin after which a sample stops walking


@dataclass
class _Moves:
    """Per mutable feature, the exact values just past each of its thresholds."""

    features: list[int]
    thresholds: list[np.ndarray]
    left: list[np.ndarray]  # largest value going left at each threshold
    right: list[np.ndarray]  # smallest value going right at each threshold
    categorical: list[tuple[int, np.ndarray]]
    onehot: list[tuple[int, ...]]


@dataclass
class _Walk:
    """Everything the steps share."""

    ens: TreeEnsemble
    spec: InputSpec
    x0: np.ndarray
    y: np.ndarray
    norm: str
    eps: float | None
    moves: _Moves
    x_cur: np.ndarray
    rng: np.random.Generator
    queries: np.ndarray
    leaf: np.ndarray | None = None  # (n, T) current leaf of each sample in each tree
    path: np.ndarray | None = None  # (n, T, d) features tested on those paths
    total: np.ndarray | None = None  # (n, n_outputs) summed leaf values (float64)
    boxes: LeafBoxes | None = None  # every leaf's box (L∞ refinement), None if too large

    def track(self, cur: np.ndarray, rows: np.ndarray) -> None:
        """Recompute the cached leaves, paths and leaf sums of `rows` at their current points."""
        if self.leaf is None or self.path is None or self.total is None:
            n, t, d = len(cur), self.ens.n_trees, self.ens.n_features
            self.leaf = np.zeros((n, t), dtype=np.int64)
            self.path = np.zeros((n, t, d), dtype=bool)
            self.total = np.zeros((n, self.ens.n_outputs))
        leaf, path = self.ens.paths(cur[rows])
        self.leaf[rows], self.path[rows] = leaf, path
        self.total[rows] = self.ens.node_values[np.arange(self.ens.n_trees), leaf].sum(axis=1)

    def approx_margin(self, cand: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Margins of candidate rows from the cached state: only the trees whose current path
        tests a changed feature are walked again. Not bit-exact; picks are re-checked."""
        np.add.at(self.queries, owner, 1)
        out = np.empty(len(cand))
        step = max(1, CHUNK_CELLS // max(self.ens.n_trees * self.ens.n_features, 1))
        for s in range(0, len(cand), step):
            out[s : s + step] = self._approx(cand[s : s + step], owner[s : s + step])
        return out

    def _approx(self, cand: np.ndarray, owner: np.ndarray) -> np.ndarray:
        assert self.leaf is not None
        assert self.path is not None
        assert self.total is not None
        changed = cand != self.x_cur[owner]
        affected = (self.path[owner] & changed[:, None, :]).any(axis=2)
        k, t = np.nonzero(affected)
        new = self.ens.pair_leaves(cand, k, t)
        vals = self.ens.node_values
        diff = vals[t, new] - vals[t, self.leaf[owner[k], t]]
        total = self.total[owner].copy()
        for o in range(total.shape[1]):
            total[:, o] += np.bincount(k, weights=diff[:, o], minlength=len(cand))
        return _margin_of(_scores_of(self.ens, total), self.y[owner])

    def evaluate(self, xc: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(margin, flipped) of candidate rows belonging to samples `owner`; counts queries."""
        np.add.at(self.queries, owner, 1)
        s = self.ens.scores(xc)
        yy = self.y[owner]
        rows = np.arange(len(s))
        flipped = s.argmax(axis=1) != yy
        own = s[rows, yy].copy()
        s[rows, yy] = -np.inf
        return own - s.max(axis=1), flipped

    def size(self, xc: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Perturbation of candidate rows in the unit box."""
        return unit_norm(xc - self.x0[owner], self.spec.scale, self.norm)

    def allowed(self, size: np.ndarray) -> np.ndarray:
        """Within eps (when an eps is given)."""
        if self.eps is None:
            return np.ones(len(size), dtype=bool)
        return np.asarray(size <= self.eps * (1 + 1e-9) + 1e-12)


def _scores_of(ens: TreeEnsemble, total: np.ndarray) -> np.ndarray:
    """Per-class scores from summed leaf values (as TreeEnsemble.scores, up to rounding)."""
    if ens.link == "average":
        return np.asarray(total / ens.n_trees + ens.base)
    out = np.asarray(total + ens.base)
    if ens.link == "logistic":
        return np.column_stack([np.zeros(len(out)), out[:, 0]])
    return out


def _margin_of(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Score of y minus the best other score, per row."""
    rows = np.arange(len(s))
    own = s[rows, y].copy()
    s = s.copy()
    s[rows, y] = -np.inf
    return np.asarray(own - s.max(axis=1))


def leaf_walk(
    ensemble: TreeEnsemble,
    x: np.ndarray,
    y: np.ndarray,
    spec: InputSpec,
    *,
    eps: float | None = None,
    norm: str = "inf",
    max_steps: int = 200,
    rng: np.random.Generator | None = None,
    deadline: float | None = None,
) -> AttackResult:
    """Evade the ensemble on each row of x (feature units, true classes y).

    Returns x_adv in feature units, always feasible under `spec`; `norms` are measured in the
    unit box (Δ / spec.scale); with `eps` (unit box) a sample counts as a success only within
    eps. `queries` counts the ensemble rows evaluated for each sample. `deadline`
    (time.monotonic) ends the walk early; what was reached by then is still reported."""
    norm = check_norm(norm, ("inf", "2", "1"))
    x, y = checked_inputs(ensemble, x, y, spec)
    gen, moves = make_rng(rng), _moves(ensemble, spec)
    boxes = leaf_boxes(ensemble, spec.integer) if len(x) else None
    parts = [
        _walk_batch(
            _Walk(
                ensemble,
                spec,
                x[i : i + BATCH],
                y[i : i + BATCH],
                norm,
                eps,
                moves,
                x[i : i + BATCH].copy(),
                gen,
                np.zeros(len(x[i : i + BATCH]), np.int64),
                boxes=boxes,
            ),
            max_steps,
            deadline,
        )
        for i in range(0, len(x), BATCH)
    ]
    if not parts:
        empty = np.zeros(0)
        return AttackResult(x.copy(), empty.astype(bool), empty.astype(np.int64), empty)
    return AttackResult(
        x_adv=np.concatenate([p.x_adv for p in parts]),
        success=np.concatenate([p.success for p in parts]),
        queries=np.concatenate([p.queries for p in parts]),
        norms=np.concatenate([p.norms for p in parts]),
        stopped="time" if any(p.stopped for p in parts) else None,
    )


def _walk_batch(walk: _Walk, max_steps: int, deadline: float | None) -> AttackResult:
    """Walk, restart the stuck samples (no eps only), shrink, check."""
    n = len(walk.x0)
    cur = walk.x_cur
    cur[:] = walk.spec.project(walk.x0, walk.x0)
    margin, flipped = walk.evaluate(cur, np.arange(n))
    walk.track(cur, np.arange(n))
    stopped = None
    best, idle = margin.copy(), np.zeros(n, dtype=np.int64)
    for _ in range(max_steps):
        active = np.flatnonzero(~flipped & (idle < STALL_STEPS))
        if len(active) == 0:
            break
        if deadline is not None and time.monotonic() >= deadline:
            stopped = "time"
            break
        if not _step(walk, cur, margin, flipped, active).any():
            break
        idle[active] = np.where(margin[active] < best[active] - 1e-12, 0, idle[active] + 1)
        best[active] = np.minimum(best[active], margin[active])
    stuck = np.flatnonzero(~flipped)
    if len(stuck) and stopped is None:
        _restart_in_regions(walk, cur, flipped, stuck)
    stuck = np.flatnonzero(~flipped)
    if len(stuck) and walk.eps is None and stopped is None:
        _restart_from_others(walk, cur, flipped, stuck)
    done = np.flatnonzero(flipped)
    if len(done):
        cur[done] = _shrink(walk, _segment(walk, _shrink(walk, cur[done], done), done), done)
        _refine(walk, cur, flipped, deadline)
    result = _finish(walk, cur)
    result.stopped = stopped
    return result


def _refine(walk: _Walk, cur: np.ndarray, flipped: np.ndarray, deadline: float | None) -> None:
    """Shrink the found evasions further: neighbours' evasions as seeds, then (L∞) the
    radius bisection with a box-constrained descent, then the coordinate shrink again."""
    done = np.flatnonzero(flipped)
    if len(done) == 0 or (deadline is not None and time.monotonic() >= deadline):
        return
    seeded = neighbour_seeds(walk, cur[done], done, np.ones(len(done), dtype=bool))
    if walk.norm == "inf" and walk.eps is None:
        seeded = box_search(walk, seeded, done, deadline)
    cur[done] = _shrink(walk, seeded, done)


def _moves(ens: TreeEnsemble, spec: InputSpec) -> _Moves:
    """Crossing values for every attacker-controlled feature the ensemble splits on."""
    mutable = spec.mutable_mask.copy()
    in_group = {i for g in spec.onehot for i in g}
    feats, thr, left, right = [], [], [], []
    for i in np.flatnonzero(mutable):
        t = ens.thresholds[i]
        if i in in_group or i in spec.categorical or len(t) == 0:
            continue
        is_int = i in spec.integer
        feats.append(int(i))
        thr.append(t)
        left.append(ens.left_value(t, integer=is_int))
        right.append(ens.right_value(t, integer=is_int))
    cats = [
        (int(i), np.asarray(v, dtype=np.float64))
        for i, v in spec.categorical.items()
        if mutable[i] and i not in in_group
    ]
    groups = [g for g in spec.onehot if all(mutable[i] for i in g)]
    return _Moves(feats, thr, left, right, cats, groups)


def _candidates(walk: _Walk, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidate rows (a, C, d), valid (a, C)) for the current rows of active samples."""
    blocks, valid = [], []
    mv, ens = walk.moves, walk.ens
    for i, t, lv, rv in zip(mv.features, mv.thresholds, mv.left, mv.right, strict=True):
        v = ens.cast(cur[:, i])
        up = (
            np.searchsorted(t, v, side="right") if ens.strict else np.searchsorted(t, v)
        )  # first threshold that v still goes left at
        for hop in HOPS:
            for j, values in ((up + hop - 1, rv), (up - hop, lv)):
                ok = (j >= 0) & (j < len(t))
                c = cur.copy()
                c[:, i] = values[np.clip(j, 0, len(t) - 1)]
                blocks.append(c)
                valid.append(ok)
    for i, values in mv.categorical:
        for value in values:
            c = cur.copy()
            c[:, i] = value
            blocks.append(c)
            valid.append(cur[:, i] != value)
    for group in mv.onehot:
        for col in group:
            c = cur.copy()
            c[:, list(group)] = 0.0
            c[:, col] = 1.0
            blocks.append(c)
            valid.append(cur[:, col] != 1.0)
    if not blocks:
        return np.zeros((len(cur), 0, cur.shape[1])), np.zeros((len(cur), 0), dtype=bool)
    return np.stack(blocks, axis=1), np.stack(valid, axis=1)


def _step(
    walk: _Walk, cur: np.ndarray, margin: np.ndarray, flipped: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """One greedy move for each active sample; returns which samples moved."""
    cand, valid = _candidates(walk, cur[active])
    a, n_c, d = cand.shape
    if n_c == 0:
        return np.zeros(len(active), dtype=bool)
    owner = np.repeat(active, n_c)
    flat = walk.spec.project(cand.reshape(a * n_c, d), walk.x0[owner])
    size = walk.size(flat, owner)
    ok = valid.reshape(-1) & walk.allowed(size) & np.any(flat != cur[owner], axis=1)
    m = np.full(len(flat), np.inf)
    if ok.any():
        m[ok] = walk.approx_margin(flat[ok], owner[ok])
    gain = np.repeat(margin[active], n_c) - m
    added = np.maximum(size - np.repeat(walk.size(cur[active], active), n_c), 0.0)
    score = np.where(ok & (gain > 0), gain / (added + 1e-6), -np.inf)
    flips = ok & (m <= 0)  # a (likely) flip wins outright: the smallest one
    score = np.where(flips, np.inf, score)
    tie = np.where(flips, -size, walk.rng.uniform(0, 1e-9, len(score)))
    order = np.lexsort((tie.reshape(a, n_c), score.reshape(a, n_c)))[:, -1]
    pick = np.arange(a) * n_c + order
    moved = score[pick] > -np.inf
    rows = active[moved]
    if len(rows):
        cur[rows] = flat[pick[moved]]
        margin[rows], flipped[rows] = walk.evaluate(cur[rows], rows)  # exact, for the record
        walk.track(cur, rows)
    return np.asarray(moved)


def _restart_in_regions(
    walk: _Walk, cur: np.ndarray, flipped: np.ndarray, stuck: np.ndarray
) -> None:
    """Samples the walk could not flip get the leaf-tuple search over the whole allowed
    L∞ box (radius eps under L∞, else the full range); kept only where eps allows."""
    if walk.boxes is None or (walk.eps is not None and walk.norm != "inf"):
        return
    radius = np.full(len(walk.x0), 1.0 if walk.eps is None else walk.eps)
    found, hit = region_search(walk, walk.boxes, stuck, radius)
    hit[stuck] &= walk.allowed(walk.size(found[stuck], stuck))
    rows = stuck[hit[stuck]]
    cur[rows], flipped[rows] = found[rows], True
    walk.track(cur, rows)


def _restart_from_others(
    walk: _Walk, cur: np.ndarray, flipped: np.ndarray, stuck: np.ndarray
) -> None:
    """Samples the walk could not flip start again from the nearest batch row of another
    predicted class (projected so that immutable and derived columns stay right)."""
    pred = walk.ens.predict(walk.x0)
    for i in stuck:
        others = np.flatnonzero(pred != walk.y[i])
        if len(others) == 0:
            continue
        starts = walk.spec.project(walk.x0[others], np.repeat(walk.x0[i : i + 1], len(others), 0))
        owner = np.full(len(starts), i)
        _, hit = walk.evaluate(starts, owner)
        if not hit.any():
            continue
        size = walk.size(starts, owner)
        best = int(np.argmin(np.where(hit, size, np.inf)))
        cur[i], flipped[i] = starts[best], True


def _shrink(walk: _Walk, xa: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Move adversarial rows back towards the originals while they stay adversarial: first
    coordinate by coordinate (largest change first), then along the segment."""
    x0 = walk.x0[rows]
    out = xa.copy()
    change = np.abs(out - x0) / walk.spec.scale
    for k in np.argsort(-change.max(axis=0)):
        moving = np.flatnonzero(out[:, k] != x0[:, k])
        if len(moving) == 0:
            continue
        trial = out[moving].copy()
        trial[:, k] = x0[moving, k]
        trial = walk.spec.project(trial, x0[moving])
        _, hit = walk.evaluate(trial, rows[moving])
        out[moving[hit]] = trial[hit]
    return out


def _segment(walk: _Walk, xa: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Bisection on t for the smallest still-adversarial point x0 + t (xa - x0) (L2, L1), or
    x0 + clip(xa - x0, ±t r s) for L∞, where coordinates that moved little keep their move."""
    x0 = walk.x0[rows]
    lo, hi = np.zeros(len(rows)), np.ones(len(rows))
    best = xa.copy()
    delta = xa - x0
    radius = walk.size(xa, rows)[:, None] * walk.spec.scale
    for _ in range(SEGMENT_STEPS):
        mid = (lo + hi) / 2
        if walk.norm == "inf":
            step = np.clip(delta, -mid[:, None] * radius, mid[:, None] * radius)
        else:
            step = mid[:, None] * delta
        trial = walk.spec.project(x0 + step, x0)
        _, hit = walk.evaluate(trial, rows)
        smaller = hit & (walk.size(trial, rows) <= walk.size(best, rows))
        best[smaller] = trial[smaller]
        hi = np.where(hit, mid, hi)
        lo = np.where(hit, lo, mid)
    return best


def _finish(walk: _Walk, cur: np.ndarray) -> AttackResult:
    """Final check on the ensemble and the spec; failures report the original row."""
    n = len(cur)
    if n == 0:
        empty = np.zeros(0)
        return AttackResult(cur, empty.astype(bool), empty.astype(np.int64), empty)
    _, flipped = walk.evaluate(cur, np.arange(n))
    size = walk.size(cur, np.arange(n))
    success = flipped & walk.spec.feasible(cur) & walk.allowed(size)
    x_adv = np.where(success[:, None], cur, walk.x0)
    return AttackResult(
        x_adv=x_adv,
        success=success,
        queries=walk.queries.copy(),
        norms=np.where(success, size, 0.0),
    )
