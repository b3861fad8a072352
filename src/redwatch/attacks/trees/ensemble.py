"""TreeEnsemble: one numpy view of a fitted tree model (scikit-learn trees and forests,
gradient boosting, XGBoost, LightGBM), exact enough that its predictions match the real
model's bit for bit, including inputs that sit exactly on a split threshold.

Exactness rests on three details the libraries differ in:
- the split rule: `x <= t` goes left (scikit-learn, LightGBM) or `x < t` (XGBoost);
- the input precision: scikit-learn and XGBoost compare float32 inputs, LightGBM float64;
- the accumulation: XGBoost sums leaf values in float32, the others in float64, tree by tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from redwatch.exceptions import ProbeError

if TYPE_CHECKING:
    from redwatch.targets.spec import InputSpec

LINKS = ("average", "logistic", "softmax")
CHUNK_CELLS = 4_000_000  # rows x trees x outputs evaluated at once (bounds peak memory)


@dataclass(frozen=True)
class Tree:
    """One binary tree as flat arrays; leaves have feature -1 and children -1."""

    feature: np.ndarray  # (m,) int64
    threshold: np.ndarray  # (m,) float64
    left: np.ndarray  # (m,) int64
    right: np.ndarray  # (m,) int64
    value: np.ndarray  # (m, n_outputs) float64, read at leaves

    @property
    def is_leaf(self) -> np.ndarray:
        """(m,) bool: True at leaves."""
        return np.asarray(self.left < 0)

    @property
    def n_leaves(self) -> int:
        """Number of leaves."""
        return int(self.is_leaf.sum())

    @property
    def depth(self) -> int:
        """Length of the longest root-to-leaf path (0 for a single leaf)."""
        deepest, stack = 0, [(0, 0)]
        while stack:
            node, d = stack.pop()
            deepest = max(deepest, d)
            if self.left[node] >= 0:
                stack += [(int(self.left[node]), d + 1), (int(self.right[node]), d + 1)]
        return deepest


@dataclass(frozen=True)
class TreeEnsemble:
    """A fitted tree model: trees, how their outputs combine, and how splits compare.

    `link` says how summed leaf values become a prediction: "average" (scikit-learn trees and
    forests: mean of per-tree class probabilities, one output per class), "logistic" (binary
    boosting: one margin output, class 1 when it is > 0) or "softmax" (multiclass boosting:
    one margin per class). `base` is added to the summed outputs (after averaging).
    """

    trees: tuple[Tree, ...]
    n_features: int
    n_classes: int
    link: str
    base: np.ndarray  # (n_outputs,)
    strict: bool = False  # True: x < t goes left (XGBoost); False: x <= t goes left
    float32_inputs: bool = False  # inputs are compared after a cast to float32
    float32_sum: bool = False  # leaf values are accumulated in float32 (XGBoost)
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    # -- shape ----------------------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        """Columns of `decision`: 1 for binary boosting, else one per class."""
        return int(self.base.shape[0])

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.trees)

    @cached_property
    def n_leaves(self) -> int:
        """Total number of leaves over all trees (the size that makes exact attacks costly)."""
        return sum(t.n_leaves for t in self.trees)

    @cached_property
    def max_depth(self) -> int:
        """Deepest tree."""
        return max((t.depth for t in self.trees), default=0)

    @cached_property
    def thresholds(self) -> tuple[np.ndarray, ...]:
        """Per feature, the sorted distinct thresholds that some tree splits it on."""
        per: list[list[np.ndarray]] = [[] for _ in range(self.n_features)]
        for t in self.trees:
            inner = ~t.is_leaf
            for f, thr in zip(t.feature[inner], t.threshold[inner], strict=True):
                per[int(f)].append(np.asarray([thr]))
        return tuple(
            np.unique(np.concatenate(p)) if p else np.zeros(0, dtype=np.float64) for p in per
        )

    # -- evaluation -----------------------------------------------------------------------
    @cached_property
    def _packed(self) -> tuple[np.ndarray, ...]:
        """All trees padded to one (T, max_nodes) layout for vectorised traversal."""
        size = max(len(t.feature) for t in self.trees)
        n_t = self.n_trees
        feat = np.full((n_t, size), -1, dtype=np.int64)
        thr = np.zeros((n_t, size))
        left = np.full((n_t, size), -1, dtype=np.int64)
        right = np.full((n_t, size), -1, dtype=np.int64)
        val = np.zeros((n_t, size, self.n_outputs))
        for i, t in enumerate(self.trees):
            m = len(t.feature)
            feat[i, :m], thr[i, :m], left[i, :m], right[i, :m] = (
                t.feature,
                t.threshold,
                t.left,
                t.right,
            )
            val[i, :m] = t.value
        if self.float32_sum:
            val = val.astype(np.float32)
        return feat, thr, left, right, val

    @cached_property
    def node_values(self) -> np.ndarray:
        """(T, max_nodes, n_outputs) float64 node values in the padded layout of `leaves`."""
        return np.asarray(self._packed[4], dtype=np.float64)

    def cast(self, x: np.ndarray) -> np.ndarray:
        """Inputs as the model compares them: float32-rounded where the library does so."""
        x = np.asarray(x, dtype=np.float64)
        if self.float32_inputs:
            return np.asarray(x.astype(np.float32), dtype=np.float64)
        return x

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """(n, T) node index of the leaf each row reaches in each tree."""
        return self._descend(x, record_path=False)[0]

    def paths(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(leaves (n, T), on_path (n, T, d) bool): the leaf each row reaches in each tree and
        which features the splits along that path test. A change to other features cannot
        move the row to another leaf of that tree."""
        node, on_path = self._descend(x, record_path=True)
        assert on_path is not None
        return node, on_path

    def _descend(self, x: np.ndarray, *, record_path: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Walk every row down every tree at once; optionally mark the features tested on
        the way (an (n, T, d) array, so only when asked)."""
        feat, thr, left, right, _ = self._packed
        xc = self.cast(np.atleast_2d(x))
        n = len(xc)
        tree_idx = np.arange(self.n_trees)[None, :]
        node = np.zeros((n, self.n_trees), dtype=np.int64)
        on_path = np.zeros((n, self.n_trees, self.n_features), dtype=bool) if record_path else None
        rows = np.arange(n)[:, None]
        for _ in range(self.max_depth):
            f = feat[tree_idx, node]
            inner = f >= 0
            if not inner.any():
                break
            fi = np.maximum(f, 0)
            if on_path is not None:
                r, t = np.nonzero(inner)
                on_path[r, t, fi[r, t]] = True
            xv, t = xc[rows, fi], thr[tree_idx, node]
            go_left = xv < t if self.strict else xv <= t
            nxt = np.where(go_left, left[tree_idx, node], right[tree_idx, node])
            node = np.where(inner, nxt, node)
        return node, on_path

    def pair_leaves(self, x: np.ndarray, row: np.ndarray, tree: np.ndarray) -> np.ndarray:
        """(P,) leaf reached by row x[row[k]] in tree tree[k], for a flat list of pairs."""
        feat, thr, left, right, _ = self._packed
        xc = self.cast(np.atleast_2d(x))
        node = np.zeros(len(row), dtype=np.int64)
        for _ in range(self.max_depth):
            f = feat[tree, node]
            inner = f >= 0
            if not inner.any():
                break
            xv = xc[row, np.maximum(f, 0)]
            t = thr[tree, node]
            go_left = xv < t if self.strict else xv <= t
            nxt = np.where(go_left, left[tree, node], right[tree, node])
            node = np.where(inner, nxt, node)
        return node

    def leaf_values(self, leaves: np.ndarray) -> np.ndarray:
        """(n, T, n_outputs) leaf values for a leaves() array."""
        val = self._packed[4]
        return np.asarray(val[np.arange(self.n_trees)[None, :], leaves])

    def decision(self, x: np.ndarray) -> np.ndarray:
        """(n, n_outputs) combined raw output: averaged probabilities or summed margins.

        Trees are added one by one in model order, in the library's precision, so that
        ties and near-ties resolve as they do in the real model."""
        x = np.atleast_2d(x)
        step = max(1, CHUNK_CELLS // max(self.n_trees * self.n_outputs, 1))
        parts = [self._decision(x[i : i + step]) for i in range(0, len(x), step)]
        out = np.concatenate(parts) if parts else np.zeros((0, self.n_outputs))
        if self.link == "average":
            out = out / self.n_trees + self.base
        return out

    def _decision(self, x: np.ndarray) -> np.ndarray:
        """Summed leaf values of one chunk of rows, before averaging."""
        vals = self.leaf_values(self.leaves(x))
        dtype = np.float32 if self.float32_sum else np.float64
        acc = np.zeros((vals.shape[0], self.n_outputs), dtype=dtype)
        if self.link != "average":
            acc += self.base.astype(dtype)
        for i in range(self.n_trees):
            acc += vals[:, i]
        return np.asarray(acc, dtype=np.float64)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """(n, n_classes) per-class scores whose argmax (ties: lowest class) is the label."""
        d = self.decision(x)
        if self.link == "logistic":
            return np.column_stack([np.zeros(len(d)), d[:, 0]])
        return d

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n,) predicted class indices, as the real model predicts them."""
        return np.asarray(self.scores(x).argmax(axis=1), dtype=np.int64)

    def margin(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(n,) score of class y minus the best other class; the label flips when it drops
        below zero (at zero, the lower class index wins the tie)."""
        s = self.scores(x)
        rows = np.arange(len(s))
        own = s[rows, y].copy()
        s[rows, y] = -np.inf
        return np.asarray(own - s.max(axis=1))

    # -- crossing thresholds exactly --------------------------------------------------------
    def left_value(self, t: np.ndarray, integer: bool = False) -> np.ndarray:
        """The largest input value that goes left at threshold(s) t."""
        t = np.asarray(t, dtype=np.float64)
        if integer:
            return np.ceil(t) - 1.0 if self.strict else np.floor(t)
        v = self._nearest(t)
        too_big = v >= t if self.strict else v > t
        return np.where(too_big, self._step(v, -np.inf), v)

    def right_value(self, t: np.ndarray, integer: bool = False) -> np.ndarray:
        """The smallest input value that goes right at threshold(s) t."""
        t = np.asarray(t, dtype=np.float64)
        if integer:
            return np.ceil(t) if self.strict else np.floor(t) + 1.0
        v = self._nearest(t)
        too_small = v < t if self.strict else v <= t
        return np.where(too_small, self._step(v, np.inf), v)

    def _nearest(self, t: np.ndarray) -> np.ndarray:
        if self.float32_inputs:
            return np.asarray(t.astype(np.float32), dtype=np.float64)
        return t

    def _step(self, v: np.ndarray, toward: float) -> np.ndarray:
        if self.float32_inputs:
            f = v.astype(np.float32)
            return np.asarray(np.nextafter(f, np.float32(toward)), dtype=np.float64)
        return np.asarray(np.nextafter(v, toward))


def extract(model: Any) -> TreeEnsemble | None:
    """The TreeEnsemble of a supported fitted tree model, or None for anything else.

    Supported: scikit-learn DecisionTreeClassifier, RandomForestClassifier,
    ExtraTreesClassifier, GradientBoostingClassifier; xgboost XGBClassifier and Booster
    (binary:logistic, binary:logitraw, multi:softprob, multi:softmax); lightgbm
    LGBMClassifier and Booster (binary, multiclass). Pipelines are not unwrapped."""
    from redwatch.attacks.trees.parsers import parse

    return parse(model)


def checked_inputs(
    ensemble: TreeEnsemble, x: np.ndarray, y: np.ndarray, spec: InputSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, d) float64 and class indices (n,) that fit the ensemble and the spec;
    ProbeError naming the mismatch otherwise."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if x.shape[1] != ensemble.n_features or spec.n_features != ensemble.n_features:
        raise ProbeError(
            f"the ensemble takes {ensemble.n_features} features; got rows of {x.shape[1]} "
            f"and a spec of {spec.n_features}"
        )
    if len(y) != len(x):
        raise ProbeError(f"{len(y)} labels for {len(x)} samples")
    if len(y) and (y.min() < 0 or y.max() >= ensemble.n_classes):
        raise ProbeError(f"labels must be class indices 0..{ensemble.n_classes - 1}")
    return x, y
