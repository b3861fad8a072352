"""Read fitted tree models into a TreeEnsemble: scikit-learn estimators through their
`tree_` arrays, XGBoost through its JSON model (`save_raw("json")`), LightGBM through
`dump_model()`. Anything unsupported (categorical splits, linear leaves, DART, multi-output
trees, custom init estimators) gives None rather than a wrong ensemble."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from redwatch.attacks.trees.ensemble import Tree, TreeEnsemble


def parse(model: Any) -> TreeEnsemble | None:
    """Dispatch on the model's library and class name (without importing other libraries)."""
    module = type(model).__module__.split(".")[0]
    name = type(model).__name__
    if module == "sklearn":
        return _sklearn(model, name)
    if module == "xgboost":
        booster = model if name == "Booster" else getattr(model, "get_booster", lambda: None)()
        return None if booster is None else _xgboost(booster, _best_iteration(model))
    if module == "lightgbm":
        booster = model if name == "Booster" else getattr(model, "booster_", None)
        return None if booster is None else _lightgbm(booster)
    return None


# -- scikit-learn ---------------------------------------------------------------------------
def _sklearn(model: Any, name: str) -> TreeEnsemble | None:
    if name == "DecisionTreeClassifier":
        trees = [model]
    elif name in ("RandomForestClassifier", "ExtraTreesClassifier"):
        trees = list(getattr(model, "estimators_", []))
    elif name == "GradientBoostingClassifier":
        return _sklearn_gb(model)
    else:
        return None
    n_classes = getattr(model, "n_classes_", None)
    if not trees or not isinstance(n_classes, int | np.integer) or n_classes < 2:
        return None  # unfitted or multi-output
    parsed = [_sk_tree(t.tree_, _proba_values(t.tree_)) for t in trees]
    return TreeEnsemble(
        trees=tuple(parsed),
        n_features=int(model.n_features_in_),
        n_classes=int(n_classes),
        link="average",
        base=np.zeros(int(n_classes)),
        float32_inputs=True,
        source=f"sklearn.{name}",
    )


def _proba_values(tree: Any) -> np.ndarray:
    """Per-node class probabilities, normalised as DecisionTreeClassifier.predict_proba does."""
    value = np.asarray(tree.value[:, 0, :], dtype=np.float64)
    norm = value.sum(axis=1, keepdims=True)
    norm[norm == 0.0] = 1.0
    return np.asarray(value / norm)


def _sk_tree(tree: Any, value: np.ndarray) -> Tree:
    left = np.asarray(tree.children_left, dtype=np.int64)
    leaf = left < 0
    feature = np.where(leaf, -1, np.asarray(tree.feature, dtype=np.int64))
    threshold = np.where(leaf, 0.0, np.asarray(tree.threshold, dtype=np.float64))
    right = np.asarray(tree.children_right, dtype=np.int64)
    return Tree(feature, threshold, np.where(leaf, -1, left), np.where(leaf, -1, right), value)


def _sklearn_gb(model: Any) -> TreeEnsemble | None:
    stages = getattr(model, "estimators_", None)
    init = getattr(model, "init_", None)
    if stages is None or not (init == "zero" or type(init).__name__ == "DummyClassifier"):
        return None
    n_classes = int(model.n_classes_)
    k = stages.shape[1]
    d = int(model.n_features_in_)
    base = np.asarray(model._raw_predict_init(np.zeros((1, d), dtype=np.float32)))[0]
    lr = float(model.learning_rate)
    trees = []
    for stage in stages:
        for j, est in enumerate(stage):
            v = np.zeros((est.tree_.node_count, k))
            v[:, j] = lr * np.asarray(est.tree_.value[:, 0, 0], dtype=np.float64)
            trees.append(_sk_tree(est.tree_, v))
    return TreeEnsemble(
        trees=tuple(trees),
        n_features=d,
        n_classes=n_classes,
        link="logistic" if k == 1 else "softmax",
        base=np.asarray(base, dtype=np.float64),
        float32_inputs=True,
        source="sklearn.GradientBoostingClassifier",
    )


# -- XGBoost --------------------------------------------------------------------------------
_XGB_LINKS = {
    "binary:logistic": "logistic",
    "binary:logitraw": "logistic",
    "multi:softprob": "softmax",
    "multi:softmax": "softmax",
}


def _best_iteration(model: Any) -> int | None:
    """The early-stopping iteration XGBClassifier.predict uses, if any (raw Boosters use
    every tree)."""
    if type(model).__name__ == "Booster":
        return None
    try:
        best = model.get_booster().attr("best_iteration")
    except Exception:  # an unfitted wrapper answers with its own error type
        return None
    return None if best is None else int(best)


def _xgboost(booster: Any, best_iteration: int | None) -> TreeEnsemble | None:
    learner = json.loads(bytes(booster.save_raw("json")))["learner"]
    objective = str(learner["objective"]["name"])
    gb = learner["gradient_booster"]
    if objective not in _XGB_LINKS or gb.get("name") != "gbtree":
        return None
    params = learner["learner_model_param"]
    n_class = int(params.get("num_class", "0") or 0)
    link = _XGB_LINKS[objective]
    n_out = 1 if link == "logistic" else n_class
    base = _xgb_base(str(params["base_score"]), objective, n_out)
    model = gb["model"]
    info = [int(c) for c in model["tree_info"]]
    raw_trees = model["trees"]
    if best_iteration is not None and "iteration_indptr" in model:
        end = int(model["iteration_indptr"][best_iteration + 1])
        raw_trees, info = raw_trees[:end], info[:end]
    trees = []
    for raw, out in zip(raw_trees, info, strict=True):
        tree = _xgb_tree(raw, out, n_out)
        if tree is None:
            return None
        trees.append(tree)
    if not trees:
        return None
    return TreeEnsemble(
        trees=tuple(trees),
        n_features=int(params["num_feature"]),
        n_classes=max(n_class, 2),
        link=link,
        base=base,
        strict=True,
        float32_inputs=True,
        float32_sum=True,
        source=f"xgboost.{objective}",
    )


def _xgb_base(text: str, objective: str, n_out: int) -> np.ndarray:
    """The base margin: XGBoost stores a probability for logistic objectives."""
    values = np.asarray([float(v) for v in text.strip("[]").split(",")], dtype=np.float32)
    if objective == "binary:logistic":  # 1/p in float32, the rest in double (as XGBoost)
        inverse = np.asarray(np.float32(1.0) / values, dtype=np.float64)
        values = np.asarray(-np.log(inverse - 1.0), dtype=np.float32)
    if len(values) == 1 and n_out > 1:
        values = np.repeat(values, n_out)
    return np.asarray(values, dtype=np.float64)


def _xgb_tree(raw: dict[str, Any], out: int, n_out: int) -> Tree | None:
    if int(raw["tree_param"].get("size_leaf_vector", "1") or 1) > 1:
        return None  # multi-target trees
    if any(int(s) != 0 for s in raw.get("split_type", [])):
        return None  # categorical splits
    left = np.asarray(raw["left_children"], dtype=np.int64)
    right = np.asarray(raw["right_children"], dtype=np.int64)
    leaf = left < 0
    cond = np.asarray(raw["split_conditions"], dtype=np.float32).astype(np.float64)
    value = np.zeros((len(left), n_out))
    value[:, out] = np.where(leaf, cond, 0.0)
    feature = np.where(leaf, -1, np.asarray(raw["split_indices"], dtype=np.int64))
    return Tree(feature, np.where(leaf, 0.0, cond), left, np.where(leaf, -1, right), value)


# -- LightGBM -------------------------------------------------------------------------------
def _lightgbm(booster: Any) -> TreeEnsemble | None:
    dump = booster.dump_model()
    kind = str(dump.get("objective", "")).split(" ")[0]
    per_iter = int(dump.get("num_tree_per_iteration", 1))
    if dump.get("average_output") or kind not in _LGB_KINDS:
        return None
    binary = kind in ("binary", "cross_entropy")
    n_out = 1 if binary else per_iter
    trees = []
    for i, info in enumerate(dump["tree_info"]):
        if info.get("is_linear"):
            return None
        tree = _lgb_tree(info["tree_structure"], i % per_iter, n_out)
        if tree is None:
            return None
        trees.append(tree)
    if not trees:
        return None
    return TreeEnsemble(
        trees=tuple(trees),
        n_features=int(dump["max_feature_idx"]) + 1,
        n_classes=2 if binary else per_iter,
        link="logistic" if binary else "softmax",
        base=np.zeros(n_out),
        source=f"lightgbm.{kind}",
    )


_LGB_KINDS = ("binary", "cross_entropy", "multiclass", "softmax", "multiclassova")


def _lgb_tree(root: dict[str, Any], out: int, n_out: int) -> Tree | None:
    """Flatten LightGBM's nested tree (depth-first, parents before children)."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    leaf_value: list[float] = []
    stack: list[tuple[dict[str, Any], int, str]] = [(root, -1, "")]
    while stack:
        node, parent, side = stack.pop()
        idx = len(feature)
        if parent >= 0:
            (left if side == "l" else right)[parent] = idx
        left.append(-1)
        right.append(-1)
        if "leaf_value" in node or "split_feature" not in node:
            feature.append(-1)
            threshold.append(0.0)
            leaf_value.append(float(node.get("leaf_value", 0.0)))
            continue
        if node.get("decision_type") != "<=" or node.get("missing_type") == "Zero":
            return None  # categorical split or zero-as-missing
        feature.append(int(node["split_feature"]))
        threshold.append(float(node["threshold"]))
        leaf_value.append(0.0)
        stack.append((node["right_child"], idx, "r"))
        stack.append((node["left_child"], idx, "l"))
    value = np.zeros((len(feature), n_out))
    value[:, out] = leaf_value
    return Tree(
        np.asarray(feature, dtype=np.int64),
        np.asarray(threshold),
        np.asarray(left, dtype=np.int64),
        np.asarray(right, dtype=np.int64),
        value,
    )
