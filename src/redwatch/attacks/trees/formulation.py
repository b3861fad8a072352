"""The mixed-integer program of Kantchelian et al. (2016) for a TreeEnsemble and an InputSpec.

Variables, in order: x (one per feature, in feature units), z (one 0/1 per allowed value of
each categorical feature), p (one 0/1 predicate per (feature, threshold): 1 when x goes left),
l (one per leaf, continuous in [0, 1]; integral predicates force exactly one leaf per tree to
1), then the objective variables (one bound b for L∞, one |Δ_i| per feature for L1).

Everything that does not depend on the sample is built once: predicate ordering, the
predicate/x links, the tree consistency rows, the one-hot, categorical and linear-relation rows
and the norm rows, whose right-hand sides are filled in per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from redwatch.attacks.trees.ensemble import TreeEnsemble
from redwatch.targets.spec import InputSpec


@dataclass
class Rows:
    """A growing sparse constraint system lb <= A v <= ub."""

    r: list[int]
    c: list[int]
    v: list[float]
    lb: list[float]
    ub: list[float]

    @classmethod
    def empty(cls) -> Rows:
        """No rows yet."""
        return cls([], [], [], [], [])

    def add(self, cols: list[int], vals: list[float], lo: float, hi: float) -> int:
        """Append one row; returns its index."""
        k = len(self.lb)
        self.r.extend([k] * len(cols))
        self.c.extend(cols)
        self.v.extend(vals)
        self.lb.append(lo)
        self.ub.append(hi)
        return k


@dataclass
class Formulation:
    """The sample-independent part of the MILP."""

    ensemble: TreeEnsemble
    spec: InputSpec
    norm: str
    lower: np.ndarray  # (d,) x bounds used in the links
    upper: np.ndarray
    n_vars: int
    p_start: np.ndarray  # (d,) first predicate variable of each feature
    left_val: list[np.ndarray]  # per feature: largest x going left at each threshold
    right_val: list[np.ndarray]  # per feature: smallest x going right at each threshold
    l_start: int  # first leaf variable
    leaf_values: np.ndarray  # (n_leaf_vars, n_outputs)
    obj_start: int
    A: sparse.csr_matrix
    lb: np.ndarray
    ub: np.ndarray
    norm_rows: np.ndarray  # (k, 2) rows x_i - s_i b <= x0_i and x_i + s_i b >= x0_i; -1: none
    norm_features: np.ndarray  # (k,) feature of each norm row pair
    var_lb: np.ndarray
    var_ub: np.ndarray
    integrality: np.ndarray
    free: np.ndarray  # (d,) bool: features whose value the MILP must choose (relations etc.)


def build(ensemble: TreeEnsemble, spec: InputSpec, norm: str, x: np.ndarray) -> Formulation:
    """Assemble the sample-independent MILP for the rows `x` (used only to widen bounds)."""
    d = ensemble.n_features
    lower = np.minimum(spec.lower, x.min(axis=0))
    upper = np.maximum(spec.upper, x.max(axis=0))
    rows = Rows.empty()
    var_lb, var_ub, integ = list(lower), list(upper), [0] * d
    free = np.zeros(d, dtype=bool)
    for i in spec.integer - spec.derived:
        integ[i] = 1
    _onehot(spec, rows, var_lb, var_ub, integ, free)
    _categorical(spec, rows, var_lb, var_ub, integ, free)
    _relations(spec, rows, free)
    p_start, left_val, right_val = _predicates(
        ensemble, spec, (lower, upper), free, rows, var_lb, var_ub
    )
    for _ in range(int(sum(len(v) for v in left_val))):
        integ.append(1)
    l_start = len(var_lb)
    leaf_values = _trees(ensemble, p_start, l_start, rows, var_lb, var_ub, integ)
    obj_start = len(var_lb)
    norm_rows, norm_features = _norm_rows(spec, norm, obj_start, free, rows, var_lb, var_ub, integ)
    n_vars = len(var_lb)
    a = sparse.csr_matrix((rows.v, (rows.r, rows.c)), shape=(len(rows.lb), n_vars))
    return Formulation(
        ensemble=ensemble,
        spec=spec,
        norm=norm,
        lower=lower,
        upper=upper,
        n_vars=n_vars,
        p_start=p_start,
        left_val=left_val,
        right_val=right_val,
        l_start=l_start,
        leaf_values=leaf_values,
        obj_start=obj_start,
        A=a,
        lb=np.asarray(rows.lb, dtype=np.float64),
        ub=np.asarray(rows.ub, dtype=np.float64),
        norm_rows=norm_rows,
        norm_features=norm_features,
        var_lb=np.asarray(var_lb, dtype=np.float64),
        var_ub=np.asarray(var_ub, dtype=np.float64),
        integrality=np.asarray(integ, dtype=np.int64),
        free=free,
    )


def _onehot(
    spec: InputSpec,
    rows: Rows,
    var_lb: list[float],
    var_ub: list[float],
    integ: list[int],
    free: np.ndarray,
) -> None:
    """Each one-hot group: 0/1 columns that sum to one."""
    for group in spec.onehot:
        cols = list(group)
        for i in cols:
            var_lb[i], var_ub[i], integ[i] = max(var_lb[i], 0.0), min(var_ub[i], 1.0), 1
        free[cols] = True
        rows.add(cols, [1.0] * len(cols), 1.0, 1.0)


def _categorical(
    spec: InputSpec,
    rows: Rows,
    var_lb: list[float],
    var_ub: list[float],
    integ: list[int],
    free: np.ndarray,
) -> None:
    """A categorical column equals one of its allowed values: x_i = sum_k v_k z_k."""
    for i, values in spec.categorical.items():
        start = len(var_lb)
        zs = list(range(start, start + len(values)))
        var_lb.extend([0.0] * len(values))
        var_ub.extend([1.0] * len(values))
        integ.extend([1] * len(values))
        integ[i] = 0
        rows.add([i, *zs], [1.0, *[-float(v) for v in values]], 0.0, 0.0)
        rows.add(zs, [1.0] * len(zs), 1.0, 1.0)
        free[i] = True


def _relations(spec: InputSpec, rows: Rows, free: np.ndarray) -> None:
    """Each declared linear relation as one row over x."""
    for rel in spec.relations:
        cols = [int(i) for i in rel.coeffs]
        vals = [float(c) for c in rel.coeffs.values()]
        lo = rel.rhs if rel.op in (">=", "==") else -np.inf
        hi = rel.rhs if rel.op in ("<=", "==") else np.inf
        rows.add(cols, vals, lo, hi)
        free[cols] = True


def _predicates(
    ensemble: TreeEnsemble,
    spec: InputSpec,
    box: tuple[np.ndarray, np.ndarray],
    free: np.ndarray,
    rows: Rows,
    var_lb: list[float],
    var_ub: list[float],
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Predicate variables, their ordering (x <= t_j implies x <= t_{j+1}) and, for features
    whose value the solver chooses, their links to x: p = 1 forces x <= left value, p = 0
    forces x >= right value. Other features need no x: the distance rows price their moves."""
    lower, upper = box
    p_start = np.zeros(ensemble.n_features, dtype=np.int64)
    left_val, right_val = [], []
    for i, thr in enumerate(ensemble.thresholds):
        is_int = i in spec.integer and i not in spec.categorical
        lv = ensemble.left_value(thr, integer=is_int)
        rv = ensemble.right_value(thr, integer=is_int)
        left_val.append(lv)
        right_val.append(rv)
        p_start[i] = len(var_lb)
        lo_i, hi_i = float(lower[i]), float(upper[i])
        for j in range(len(thr)):
            k = len(var_lb)
            var_lb.append(1.0 if rv[j] > hi_i else 0.0)  # cannot go right: always left
            var_ub.append(0.0 if lv[j] < lo_i else 1.0)  # cannot go left: always right
            if free[i]:  # solver-set values (e.g. derived) keep a rounding-safe distance
                gap = _rounding_gap(ensemble, float(thr[j]), is_int)
                lj, rj = float(lv[j]) - gap, float(rv[j]) + gap
                rows.add([i, k], [1.0, hi_i - lj], -np.inf, hi_i)
                rows.add([i, k], [1.0, rj - lo_i], rj, np.inf)
            if j > 0:
                rows.add([k - 1, k], [1.0, -1.0], -np.inf, 0.0)
    return p_start, left_val, right_val


def _rounding_gap(ensemble: TreeEnsemble, t: float, integer: bool) -> float:
    """Margin kept from a threshold by values that come out of linear relations: they are
    computed in float64 and the model may round them to float32 on the wrong side."""
    if integer:
        return 0.0
    dtype = np.float32 if ensemble.float32_inputs else np.float64
    return float(16 * np.spacing(dtype(abs(t)))) + 1e-9 * max(abs(t), 1.0)


def _trees(
    ensemble: TreeEnsemble,
    p_start: np.ndarray,
    l_start: int,
    rows: Rows,
    var_lb: list[float],
    var_ub: list[float],
    integ: list[int],
) -> np.ndarray:
    """Leaf variables: one leaf per tree, and a leaf only under predicates that lead to it."""
    values: list[np.ndarray] = []
    for tree in ensemble.trees:
        leaves = np.flatnonzero(tree.is_leaf)
        index = {int(node): l_start + len(values) + k for k, node in enumerate(leaves)}
        values.extend(tree.value[leaves])
        var_lb.extend([0.0] * len(leaves))
        var_ub.extend([1.0] * len(leaves))
        integ.extend([0] * len(leaves))
        rows.add(list(index.values()), [1.0] * len(leaves), 1.0, 1.0)
        under = _leaves_under(tree.left, tree.right)
        for node in np.flatnonzero(~tree.is_leaf):
            f = int(tree.feature[node])
            thr = ensemble.thresholds[f]
            p = int(p_start[f] + np.searchsorted(thr, tree.threshold[node]))
            lcols = [index[leaf] for leaf in under[int(tree.left[node])]]
            rcols = [index[leaf] for leaf in under[int(tree.right[node])]]
            rows.add([*lcols, p], [1.0] * len(lcols) + [-1.0], -np.inf, 0.0)
            rows.add([*rcols, p], [1.0] * len(rcols) + [1.0], -np.inf, 1.0)
    return np.asarray(values, dtype=np.float64).reshape(len(values), -1)


def _leaves_under(left: np.ndarray, right: np.ndarray) -> dict[int, list[int]]:
    """Leaf nodes below each node (post-order over the tree)."""
    out: dict[int, list[int]] = {}
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if left[node] >= 0:
            stack += [int(left[node]), int(right[node])]
    for node in reversed(order):
        if left[node] < 0:
            out[node] = [node]
        else:
            out[node] = out[int(left[node])] + out[int(right[node])]
    return out


def _norm_rows(
    spec: InputSpec,
    norm: str,
    obj_start: int,
    free: np.ndarray,
    rows: Rows,
    var_lb: list[float],
    var_ub: list[float],
    integ: list[int],
) -> tuple[np.ndarray, np.ndarray]:
    """|x_i - x0_i| / scale_i <= b (L∞) or <= t_i (L1) for the solver-chosen features that
    may move. Returns the row pairs (-1 where a feature has none) and the movable features,
    whose order numbers the L1 variables."""
    feats = [i for i in range(spec.n_features) if i not in spec.immutable]
    pairs = []
    for k, i in enumerate(feats):
        if not free[i]:
            pairs.append((-1, -1))
            continue
        obj = obj_start if norm == "inf" else obj_start + k
        s = float(spec.scale[i])
        pairs.append(
            (rows.add([i, obj], [1.0, -s], -np.inf, 0.0), rows.add([i, obj], [1.0, s], 0.0, np.inf))
        )
    n_obj = 1 if norm == "inf" else len(feats)
    var_lb.extend([0.0] * n_obj)
    var_ub.extend([np.inf] * n_obj)
    integ.extend([0] * n_obj)
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2), np.asarray(feats, dtype=np.int64)


def distance_rows(form: Formulation, x0: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Per-sample valid inequalities that tighten the relaxation (one row per movable feature):
    crossing the thresholds above x0 costs at least the distance to the farthest one crossed,
    written as a telescoping sum over the ordered predicates, and likewise below x0.
    Rows read obj_i - sum_j w_j p_j >= const; returns (rows, const)."""
    r: list[int] = []
    c: list[int] = []
    v: list[float] = []
    const: list[float] = []
    for k, i in enumerate(form.norm_features):
        lv, rv = form.left_val[i], form.right_val[i]
        if len(lv) == 0:
            continue
        s = float(form.spec.scale[i])
        above = rv > x0[i]  # crossing to the right of these means moving up
        below = lv < x0[i]  # going left of these means moving down
        row = len(const)
        obj = form.obj_start if form.norm == "inf" else form.obj_start + k
        r.append(row)
        c.append(obj)
        v.append(1.0)
        total = 0.0
        up = np.flatnonzero(above)  # ascending thresholds: distances grow
        prev = 0.0
        for j in up:
            dist = (float(rv[j]) - x0[i]) / s
            w = dist - prev  # term w * (1 - p_j)
            prev = dist
            total += w
            r.append(row)
            c.append(int(form.p_start[i] + j))
            v.append(w)
        down = np.flatnonzero(below)[::-1]  # descending thresholds: distances grow
        prev = 0.0
        for j in down:
            dist = (x0[i] - float(lv[j])) / s
            w = dist - prev  # term w * p_j
            prev = dist
            r.append(row)
            c.append(int(form.p_start[i] + j))
            v.append(-w)
        const.append(total)
    a = sparse.csr_matrix((v, (r, c)), shape=(len(const), form.n_vars))
    return a, np.asarray(const, dtype=np.float64)
