"""Refinement of leaf-walk evasions towards the minimal L∞ radius.

The greedy walk picks moves by margin removed per unit of added perturbation, which on voting
forests often lands in an adversarial leaf region well outside the smallest one. Two passes
bring it closer to the exact (MILP) radius without solving anything:
- neighbour seeds: the adversarial points found for the other samples of the batch (and the
  rows the model already puts in another class) are tried as evasions of each sample;
- box search (no eps, L∞): bisection on the radius r; for each r the leaf-tuple region search
  (regions.py) looks for an evasion inside the box |x - x0| <= r (unit box), and where it
  fails a greedy coordinate descent moves one feature at a time to the leaf interval that
  lowers the margin most, always to the point of that interval nearest x0.
Every kept point is projected onto the InputSpec and confirmed on the ensemble.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from redwatch.attacks.trees.regions import region_search

if TYPE_CHECKING:
    from redwatch.attacks.trees.leafwalk import _Walk

WINDOW = 4  # nearest thresholds each side of x0 that a descent step may cross to
DESCENT_STEPS = 8  # coordinate moves tried per radius
BISECT_STEPS = 7  # radius bisection steps
REL_TOL = 0.02  # stop bisecting once lo and hi agree to this fraction of hi
NEIGHBOURS = 8  # nearest foreign adversarial points tried per sample
SLACK = 1e-9  # relative tolerance of the box-membership test


def neighbour_seeds(walk: _Walk, xa: np.ndarray, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Replace each sample's evasion by a smaller one found among the other samples'
    evasions (`xa[ok]`) and the batch rows predicted as another class, when one exists."""
    pool = np.concatenate([xa[ok], walk.x0])
    out = xa.copy()
    if len(pool) < 2:
        return out
    for k, i in enumerate(rows):
        x0 = walk.x0[i : i + 1]
        starts = walk.spec.project(pool, np.repeat(x0, len(pool), 0))
        owner = np.full(len(starts), i)
        size = walk.size(starts, owner)
        cur = walk.size(out[k : k + 1], owner[:1])[0] if ok[k] else np.inf
        near = np.flatnonzero(size < cur * (1 - 1e-9))
        near = near[np.argsort(size[near], kind="stable")[:NEIGHBOURS]]
        if len(near) == 0:
            continue
        _, hit = walk.evaluate(starts[near], owner[near])
        if hit.any():
            out[k] = starts[near[np.argmax(hit)]]
    return out


def box_search(walk: _Walk, xa: np.ndarray, rows: np.ndarray, deadline: float | None) -> np.ndarray:
    """Bisection on the L∞ radius with the region search (then a box-constrained coordinate
    descent) as the oracle; returns the smallest adversarial point found per row (never
    larger than `xa`)."""
    sub = replace(
        walk,
        x0=walk.x0[rows],
        y=walk.y[rows],
        x_cur=xa.copy(),
        queries=np.zeros(len(rows), dtype=np.int64),
        leaf=None,
        path=None,
        total=None,
    )
    every = np.arange(len(rows))
    best = xa.copy()
    hi = sub.size(best, every)
    lo = np.zeros(len(rows))
    for step in range(BISECT_STEPS):
        todo = np.flatnonzero(hi - lo > REL_TOL * hi)
        if len(todo) == 0 or (deadline is not None and time.monotonic() >= deadline):
            break
        r = (lo + hi) / 2
        if sub.boxes is not None:
            found, hit = region_search(sub, sub.boxes, todo, r)
            again = todo[~hit[todo]]
        else:
            found, hit, again = best.copy(), np.zeros(len(rows), dtype=bool), todo
        if len(again) and (sub.boxes is None or step == 0):
            found2, hit2 = _descend(sub, best, r, again)
            found[again], hit[again] = found2[again], hit2[again]
        size = sub.size(found, every)
        better = hit & (size < hi)
        best[better], hi[better] = found[better], size[better]
        lo[todo] = np.where(hit[todo], lo[todo], r[todo])
    walk.queries[rows] += sub.queries
    return best


def _descend(
    sub: _Walk, best: np.ndarray, r: np.ndarray, todo: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy coordinate descent inside each todo row's box of radius r, started from the
    row's best point clipped into the box. Returns (points, flipped) for all rows."""
    scale = sub.spec.scale
    x0 = sub.x0
    cur = best.copy()
    box = r[:, None] * scale
    cur[todo] = sub.spec.project(
        np.clip(best[todo], x0[todo] - box[todo], x0[todo] + box[todo]), x0[todo]
    )
    sub.x_cur = cur
    sub.track(cur, todo)
    margin = np.full(len(cur), np.inf)
    flipped = np.zeros(len(cur), dtype=bool)
    margin[todo], flipped[todo] = sub.evaluate(cur[todo], todo)
    inside = sub.size(cur, np.arange(len(cur))) <= r * (1 + SLACK) + 1e-12
    flipped &= inside
    moving = np.zeros(len(cur), dtype=bool)
    moving[todo] = inside[todo]
    for _ in range(DESCENT_STEPS):
        active = np.flatnonzero(moving & ~flipped)
        if len(active) == 0:
            break
        moved = _descent_step(sub, cur, margin, flipped, active, r)
        moving[active[~moved]] = False
    return cur, flipped


def _descent_step(
    sub: _Walk,
    cur: np.ndarray,
    margin: np.ndarray,
    flipped: np.ndarray,
    active: np.ndarray,
    r: np.ndarray,
) -> np.ndarray:
    """Move each active row to its lowest-margin single-feature change inside its box;
    returns which rows moved (their margin really went down)."""
    cand, owner = _box_candidates(sub, cur, active, r)
    moved = np.zeros(len(active), dtype=bool)
    if len(cand) == 0:
        return moved
    flat = sub.spec.project(cand, sub.x0[owner])
    ok = (sub.size(flat, owner) <= r[owner] * (1 + SLACK) + 1e-12) & np.any(
        flat != cur[owner], axis=1
    )
    if not ok.any():
        return moved
    flat, owner = flat[ok], owner[ok]
    m = sub.approx_margin(flat, owner)
    tie = sub.rng.uniform(0, 1e-12, len(m))
    order = np.lexsort((tie, m, owner))
    first = np.ones(len(order), dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    pick = order[first]
    rows = owner[pick]
    gain = m[pick] < margin[rows]
    pick, rows = pick[gain], rows[gain]
    if len(rows) == 0:
        return moved
    new_m, new_f = sub.evaluate(flat[pick], rows)
    real = new_m < margin[rows]
    pick, rows = pick[real], rows[real]
    cur[rows] = flat[pick]
    margin[rows], flipped[rows] = new_m[real], new_f[real]
    sub.track(cur, rows)
    moved[np.searchsorted(active, rows)] = True
    return moved


def _box_candidates(
    sub: _Walk, cur: np.ndarray, active: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Single-feature changes of the active rows: each feature reset to x0, or moved to the
    point nearest x0 of one of the WINDOW leaf intervals on each side of x0 inside the box;
    categorical and one-hot features switch to each other value. (rows, owner)."""
    mv, ens = sub.moves, sub.ens
    x0, base = sub.x0[active], cur[active]
    local, cols, vals = [], [], []
    hops = np.arange(WINDOW)
    for i, t, lv, rv in zip(mv.features, mv.thresholds, mv.left, mv.right, strict=True):
        v = ens.cast(x0[:, i])
        up = np.searchsorted(t, v, side="right") if ens.strict else np.searchsorted(t, v)
        j = np.concatenate([up[:, None] + hops, up[:, None] - 1 - hops], axis=1)
        jj = np.clip(j, 0, len(t) - 1)
        val = np.concatenate([rv[jj[:, :WINDOW]], lv[jj[:, WINDOW:]], x0[:, i : i + 1]], axis=1)
        lim = r[active, None] * sub.spec.scale[i] * (1 + SLACK) + 1e-12
        ok = np.concatenate([(j >= 0) & (j < len(t)), np.ones((len(up), 1), bool)], axis=1)
        ok &= (np.abs(val - x0[:, i : i + 1]) <= lim) & (val != base[:, i : i + 1])
        k, c = np.nonzero(ok)
        local.append(k)
        cols.append(np.full(len(k), i))
        vals.append(val[k, c])
    blocks, owners = [], []
    if local:
        k, col = np.concatenate(local), np.concatenate(cols)
        c = base[k].copy()
        c[np.arange(len(k)), col] = np.concatenate(vals)
        blocks.append(c)
        owners.append(active[k])

    def add(col: int, values: np.ndarray, valid: np.ndarray) -> None:
        keep = valid & (values != base[:, col])
        if keep.any():
            c = base[keep].copy()
            c[:, col] = values[keep]
            blocks.append(c)
            owners.append(active[keep])

    for i, cats in mv.categorical:
        for value in cats:
            add(i, np.full(len(active), value), np.ones(len(active), dtype=bool))
    for group in mv.onehot:
        for one in group:
            valid = base[:, one] != 1.0
            if valid.any():
                c = base[valid].copy()
                c[:, list(group)] = 0.0
                c[:, one] = 1.0
                blocks.append(c)
                owners.append(active[valid])
    if not blocks:
        return np.zeros((0, cur.shape[1])), np.zeros(0, dtype=np.int64)
    return np.concatenate(blocks), np.concatenate(owners)
