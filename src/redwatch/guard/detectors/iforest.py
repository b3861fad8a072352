"""iforest: isolation forest (Liu, Ting and Zhou 2008) fitted with scikit-learn, scored by
our own vectorised walk over the fitted trees.

An anomaly is isolated by few random splits, so its mean path length is short. The score is
2^(-E[h(x)] / c(psi)), exactly what IsolationForest.score_samples returns negated: about 0.5
for ordinary rows, near 1 for anomalies. It catches rows outside the clean data's support in
a few features (tabular out-of-range values, unusual combinations); like Mahalanobis it
misses small perturbations that stay inside the data.

Why our own walk: scikit-learn's score_samples validates the input and dispatches one job
per tree through joblib, which costs about 20 ms per call even for one row (measured on the
64-feature digits data with 100 trees); the guard scores every request. Walking all trees at
once with redwatch.attacks.trees.TreeEnsemble takes tens of microseconds and gives the same
scores (equal to 1e-9; bench/bench_guard_detection.py checks it).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from redwatch.attacks.trees.ensemble import Tree, TreeEnsemble
from redwatch.guard.detectors.base import Detector, DetectorParams


class IsolationForestParams(DetectorParams):
    """Forest size and the rows each tree is grown on ("auto": min(256, n))."""

    n_estimators: int = Field(default=100, ge=1, le=1000)
    max_samples: int | Literal["auto"] = "auto"
    max_features: float = Field(default=1.0, gt=0.0, le=1.0)


class IsolationForestDetector(Detector):
    """Isolation forest anomaly score (higher = isolated sooner = more suspicious)."""

    method: ClassVar[str] = "iforest"
    description: ClassVar[str] = "Isolation forest: rows isolated by few random splits"
    params_model: ClassVar[type[DetectorParams]] = IsolationForestParams
    params: IsolationForestParams

    def fit(self, rows: np.ndarray) -> None:
        """Grow the forest with scikit-learn and pack it for the vectorised walk."""
        from sklearn.ensemble import IsolationForest

        p = self.params
        max_samples: int | str = (
            p.max_samples if p.max_samples == "auto" else min(int(p.max_samples), len(rows))
        )
        self.forest_ = IsolationForest(
            n_estimators=p.n_estimators,
            max_samples=max_samples,
            max_features=p.max_features,
            random_state=self.setup.seed,
        ).fit(rows)
        self.walk_ = path_length_ensemble(self.forest_, rows.shape[1])
        self.norm_ = float(
            len(self.forest_.estimators_) * average_path_length(self.forest_.max_samples_)
        )

    def score(self, rows: np.ndarray) -> np.ndarray:
        """(n,) scores 2^(-mean path length / c(psi)), as -IsolationForest.score_samples."""
        depths = path_lengths(self.walk_, rows)
        if self.norm_ == 0.0:
            return np.ones(len(rows))
        return np.asarray(2.0 ** (-depths / self.norm_))

    def sklearn_score(self, rows: np.ndarray) -> np.ndarray:
        """scikit-learn's own score (negated), for the equality check in the benchmark."""
        return np.asarray(-self.forest_.score_samples(rows), dtype=np.float64)


def average_path_length(n: float | np.ndarray) -> np.ndarray:
    """c(n): mean path length of an unsuccessful search in a binary search tree of n keys
    (0 for n <= 1, 1 for n = 2), the correction for a leaf that still holds n rows."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def path_length_ensemble(forest: Any, n_features: int) -> TreeEnsemble:
    """The forest as a TreeEnsemble whose one node value is the path length a row ending
    there is charged: depth (root 0) plus c(rows left in the node). Trees grown on a feature
    subset (max_features < 1) have their split features mapped back to input columns."""
    trees = []
    for est, features in zip(forest.estimators_, forest.estimators_features_, strict=True):
        t = est.tree_
        left = np.asarray(t.children_left, dtype=np.int64)
        leaf = left < 0
        subset = len(features) != n_features
        cols = np.asarray(features if subset else np.arange(n_features), dtype=np.int64)
        feature = np.where(leaf, -1, cols[np.maximum(np.asarray(t.feature), 0)])
        value = node_depths(left, np.asarray(t.children_right, dtype=np.int64)) + (
            average_path_length(np.asarray(t.n_node_samples))
        )
        trees.append(
            Tree(
                feature=feature,
                threshold=np.where(leaf, 0.0, np.asarray(t.threshold, dtype=np.float64)),
                left=np.where(leaf, -1, left),
                right=np.where(leaf, -1, np.asarray(t.children_right, dtype=np.int64)),
                value=value[:, None],
            )
        )
    return TreeEnsemble(
        trees=tuple(trees),
        n_features=n_features,
        n_classes=1,
        link="average",
        base=np.zeros(1),
        float32_inputs=True,  # scikit-learn compares float32 inputs with the thresholds
        source="sklearn.IsolationForest",
    )


def node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Depth of every node (root 0), from the child arrays (children follow parents)."""
    depth = np.zeros(len(left), dtype=np.float64)
    for node in range(len(left)):
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1.0
    return depth


def path_lengths(walk: TreeEnsemble, rows: np.ndarray) -> np.ndarray:
    """(n,) summed path lengths of each row over all trees."""
    leaves = walk.leaves(rows)
    values = walk.node_values[np.arange(walk.n_trees)[None, :], leaves, 0]
    return np.asarray(values.sum(axis=1))
