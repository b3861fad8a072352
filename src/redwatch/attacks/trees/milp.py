"""Exact minimal-perturbation evasion of tree ensembles (Kantchelian et al., 2016), solved with
SciPy's HiGHS `milp`.

For each sample and each other class, the solver finds the smallest change (L∞ or L1, in the
unit box: Δ_i / range_i) that makes the ensemble prefer that class while every declared input
constraint holds. The solution's predicates pick a leaf region; the adversarial point is the
point of that region nearest the original, nudged exactly across each threshold (strict or
non-strict, float32 or float64, as the library compares), and checked on the ensemble.
With the solver's optimality proof, its size is the true robustness radius of the sample.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from redwatch.attacks.base import AttackResult, check_norm
from redwatch.attacks.trees.ensemble import TreeEnsemble, checked_inputs
from redwatch.attacks.trees.formulation import Formulation, build, distance_rows
from redwatch.targets.spec import InputSpec

MIP_REL_GAP = 1e-7  # optimality gap the solver must close before it reports "optimal"


@dataclass
class TreeAttackResult(AttackResult):
    """AttackResult plus what only an exact attack can say about each sample."""

    exact: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """(n,) the radius is proven minimal (or, without success, no evasion exists at all)."""
    radius: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(n,) smallest perturbation found (unit box, attack norm); inf where none was found."""


@dataclass
class _Best:
    """The best evasion of one sample so far."""

    x: np.ndarray | None = None
    radius: float = np.inf
    exact: bool = True
    evaluations: int = 0


def milp_attack(
    ensemble: TreeEnsemble,
    x: np.ndarray,
    y: np.ndarray,
    spec: InputSpec,
    *,
    norm: str = "inf",
    time_limit: float = 10.0,
    deadline: float | None = None,
) -> TreeAttackResult:
    """Minimal feasible evasion of each row of x (feature units) with true class y.

    `time_limit` is per sample (shared by its classes); `deadline` (time.monotonic) stops the
    whole batch, leaving the remaining samples unattacked (not exact, no success). `queries`
    counts ensemble evaluations used to check solutions; the model itself is never queried.
    """
    norm = check_norm(norm, ("inf", "1"))
    x, y = checked_inputs(ensemble, x, y, spec)
    n = len(x)
    out_x, radius = x.copy(), np.full(n, np.inf)
    exact, queries = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
    if n == 0:
        return _result(x, out_x, radius, exact, queries, norm, None)
    form = build(ensemble, spec, norm, x)
    stopped = None
    for i in range(n):
        if deadline is not None and time.monotonic() >= deadline:
            stopped = "time"
            break
        best = _attack_row(form, x[i], int(y[i]), time_limit, deadline)
        if best.x is not None:
            out_x[i], radius[i] = best.x, best.radius
        exact[i], queries[i] = best.exact, best.evaluations
    return _result(x, out_x, radius, exact, queries, norm, stopped)


def _result(
    x: np.ndarray,
    x_adv: np.ndarray,
    radius: np.ndarray,
    exact: np.ndarray,
    queries: np.ndarray,
    norm: str,
    stopped: str | None,
) -> TreeAttackResult:
    success = np.isfinite(radius)
    return TreeAttackResult(
        x_adv=np.where(success[:, None], x_adv, x),
        success=success,
        queries=queries,
        norms=np.where(success, radius, 0.0),
        stopped=stopped,
        exact=exact,
        radius=radius,
    )


def unit_norm(delta: np.ndarray, scale: np.ndarray, norm: str) -> np.ndarray:
    """Row-wise L∞ or L1 (or L2) norm of a feature-unit change, measured in the unit box."""
    u = np.abs(np.atleast_2d(delta)) / scale
    if norm == "inf":
        return np.asarray(u.max(axis=1), dtype=np.float64)
    if norm == "1":
        return np.asarray(u.sum(axis=1), dtype=np.float64)
    return np.asarray(np.sqrt((u**2).sum(axis=1)), dtype=np.float64)


def _attack_row(
    form: Formulation, x0: np.ndarray, y0: int, time_limit: float, deadline: float | None
) -> _Best:
    """Solve one MILP per other class (one for binary) and keep the smallest evasion."""
    best = _Best()
    if form.ensemble.predict(x0[None])[0] != y0:
        best.x, best.radius, best.evaluations = x0.copy(), 0.0, 1
        return best
    end = time.monotonic() + time_limit
    if deadline is not None:
        end = min(end, deadline)
    for c in _rivals(form.ensemble, y0):
        left = end - time.monotonic()
        if left <= 0:
            best.exact = False
            break
        _try_class(form, x0, y0, c, left, best)
    return best


def _rivals(ensemble: TreeEnsemble, y0: int) -> list[int]:
    """Classes to attack: the other class for binary margins, every other class otherwise."""
    if ensemble.link == "logistic":
        return [1 - y0]
    return [c for c in range(ensemble.n_classes) if c != y0]


def _try_class(
    form: Formulation, x0: np.ndarray, y0: int, c: int, seconds: float, best: _Best
) -> None:
    """Solve for class c under the current best radius; on a solution that the ensemble does
    not confirm (a tie resolved the other way), solve again with a wider margin."""
    for widen in (1.0, 1e3):
        sol, status = _solve(form, x0, y0, c, best.radius, seconds, widen)
        if status == "limit":
            best.exact = False
        if sol is None:
            return
        x_adv = reconstruct(form, sol, x0)
        best.evaluations += 1
        confirmed = form.ensemble.predict(x_adv[None])[0] != y0
        if confirmed and form.spec.feasible(x_adv[None])[0]:
            r = float(unit_norm(x_adv - x0, form.spec.scale, form.norm)[0])
            if r < best.radius:
                best.x, best.radius = x_adv, r
            return
    best.exact = False


def _solve(
    form: Formulation,
    x0: np.ndarray,
    y0: int,
    c: int,
    cutoff: float,
    seconds: float,
    widen: float,
) -> tuple[np.ndarray | None, str]:
    """One HiGHS solve. Returns (variable values or None, "optimal" | "infeasible" | "limit")."""
    row, lo, hi = _margin_row(form, y0, c, widen)
    dist, dist_lb = distance_rows(form, x0)
    a = sparse.vstack([form.A, row, dist], format="csr")
    lb = np.concatenate([form.lb, [lo], dist_lb])
    ub = np.concatenate([form.ub, [hi], np.full(len(dist_lb), np.inf)])
    has = form.norm_rows[:, 0] >= 0
    feats = form.norm_features[has]
    ub[form.norm_rows[has, 0]] = x0[feats]
    lb[form.norm_rows[has, 1]] = x0[feats]
    vlb, vub = form.var_lb.copy(), form.var_ub.copy()
    fixed = sorted(form.spec.immutable)
    vlb[fixed] = vub[fixed] = x0[fixed]
    _fix_predicates(form, x0, fixed, vlb, vub)
    cost = np.zeros(form.n_vars)
    cost[form.obj_start :] = 1.0
    if form.norm == "inf" and np.isfinite(cutoff):
        vub[form.obj_start] = cutoff
    with quiet_stdout():
        res = milp(
            cost,
            integrality=form.integrality,
            bounds=Bounds(vlb, vub),
            constraints=LinearConstraint(a, lb, ub),
            options={"time_limit": max(seconds, 0.01), "disp": False, "mip_rel_gap": MIP_REL_GAP},
        )
    if res.status == 0:
        return np.asarray(res.x), "optimal"
    if res.status == 2:
        return None, "infeasible"
    return (None if res.x is None else np.asarray(res.x)), "limit"


def _fix_predicates(
    form: Formulation, x0: np.ndarray, fixed: list[int], vlb: np.ndarray, vub: np.ndarray
) -> None:
    """Predicates of immutable features are decided by the original value."""
    ens = form.ensemble
    for i in fixed:
        thr = ens.thresholds[i]
        if not len(thr):
            continue
        v = float(ens.cast(x0[i : i + 1])[0])
        left = (v < thr) if ens.strict else (v <= thr)
        cols = np.arange(form.p_start[i], form.p_start[i] + len(thr))
        vlb[cols] = vub[cols] = left.astype(np.float64)


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 while HiGHS runs: some builds print debug lines there even
    with disp=False, which would corrupt a report written to standard output."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _margin_row(
    form: Formulation, y0: int, c: int, widen: float
) -> tuple[sparse.csr_matrix, float, float]:
    """The row that makes class c beat y0: score_c - score_y0 >= gap (ties go to the lower
    class index, so a lower rival of an averaging model may also tie)."""
    ens, values = form.ensemble, form.leaf_values
    n_leaf = len(values)
    scale = 1.0 + float(np.abs(ens.base).sum()) + _per_tree_scale(form)
    gap = 1e-7 * scale * widen
    if ens.link == "logistic":
        w, offset = values[:, 0], float(ens.base[0])
        if y0 == 1:  # need base + w.l <= -gap
            w, offset = -w, -offset
    else:
        w, offset = values[:, c] - values[:, y0], float(ens.base[c] - ens.base[y0])
        if ens.link == "average" and c < y0 and widen == 1.0:
            gap = 0.0
    cols = np.arange(form.l_start, form.l_start + n_leaf)
    keep = w != 0
    row = sparse.csr_matrix(
        (w[keep], (np.zeros(int(keep.sum()), dtype=np.int64), cols[keep])),
        shape=(1, form.n_vars),
    )
    return row, gap - offset, np.inf


def _per_tree_scale(form: Formulation) -> float:
    """Sum over trees of the largest |leaf value|: the size of the margin's arithmetic."""
    total, start = 0.0, 0
    for tree in form.ensemble.trees:
        k = tree.n_leaves
        total += float(np.abs(form.leaf_values[start : start + k]).max(initial=0.0))
        start += k
    return total


def reconstruct(form: Formulation, sol: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """The point nearest x0 in the leaf region that the solution's predicates select.

    Features tied to others by constraints (relations, one-hot, categorical) keep the solver's
    value, moved into the region; the rest move from x0 only as far as the region demands.
    The result goes through `InputSpec.project` so that derived columns are recomputed."""
    lo, hi = form.lower.copy(), form.upper.copy()
    for i in range(form.ensemble.n_features):
        k = len(form.left_val[i])
        if k == 0:
            continue
        p = np.round(sol[form.p_start[i] : form.p_start[i] + k]) > 0.5
        if p.any():
            hi[i] = min(hi[i], float(form.left_val[i][p].min()))
        if (~p).any():
            lo[i] = max(lo[i], float(form.right_val[i][~p].max()))
    d = form.ensemble.n_features
    x = np.where(form.free, sol[:d], x0)
    x = np.clip(x, lo, np.maximum(lo, hi))
    fixed = sorted(form.spec.immutable)
    x[fixed] = x0[fixed]
    return np.asarray(form.spec.project(x[None], x0[None])[0])
