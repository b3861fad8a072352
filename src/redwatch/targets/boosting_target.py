"""Adapters for raw gradient-boosting boosters (xgboost.Booster, lightgbm.Booster).

The scikit-learn wrappers (XGBClassifier, LGBMClassifier) go through SklearnTarget; a raw
booster has no predict_proba, so its objective decides how raw predictions become scores.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from redwatch.attacks.trees.ensemble import TreeEnsemble, extract
from redwatch.exceptions import ProbeError, TargetError
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities

_XGB_SCORES = frozenset({"binary:logistic", "binary:logitraw", "multi:softprob"})


class XGBoostBoosterTarget(Target):
    """A raw xgboost.Booster trained with binary:logistic/logitraw or multi:softprob|softmax."""

    def __init__(self, booster: Any, name: str = "xgboost") -> None:
        self.booster = booster
        self.name = name
        self.objective, n_classes = _xgb_objective(booster)
        if self.objective not in _XGB_SCORES and self.objective != "multi:softmax":
            raise TargetError(
                f"xgboost objective {self.objective!r} is not a classification objective"
            )
        self._trees = extract(booster)
        self.capabilities = Capabilities(
            labels=True,
            scores=self.objective in _XGB_SCORES,
            trees=self._trees is not None,
            n_classes=n_classes,
        )
        names = booster.feature_names
        self.feature_names = None if not names else tuple(names)
        self.n_features = int(booster.num_features())

    def _raw(self, x: np.ndarray) -> np.ndarray:
        import xgboost

        return np.asarray(self.booster.predict(xgboost.DMatrix(x)), dtype=np.float64)

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        raw = self._raw(x)
        if self.objective == "binary:logitraw":
            raw = 1.0 / (1.0 + np.exp(-raw))
        if self.objective.startswith("binary"):
            return np.column_stack([1.0 - raw, raw])
        return raw.reshape(len(x), -1)

    def tree_ensemble(self) -> TreeEnsemble:
        """The booster's trees as a TreeEnsemble (needs the `trees` capability)."""
        return _tree_ensemble(self, self._trees)

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        if self.capabilities.scores:
            return self._predict_proba(x).argmax(axis=1)
        return self._raw(x).astype(np.int64)


def _tree_ensemble(target: Target, trees: TreeEnsemble | None) -> TreeEnsemble:
    """The booster's trees (needs the `trees` capability)."""
    if trees is None:
        raise ProbeError(f"target {target.name} is not a supported tree ensemble")
    return trees


def _xgb_objective(booster: Any) -> tuple[str, int]:
    config = json.loads(booster.save_config())
    learner = config["learner"]
    objective = str(learner["objective"]["name"])
    n_class = int(learner["learner_model_param"].get("num_class", "0") or 0)
    return objective, max(n_class, 2)


class LightGBMBoosterTarget(Target):
    """A raw lightgbm.Booster trained with a binary or multiclass objective."""

    def __init__(self, booster: Any, name: str = "lightgbm") -> None:
        self.booster = booster
        self.name = name
        self.objective, n_classes = _lgb_objective(booster)
        self._trees = extract(booster)
        self.capabilities = Capabilities(
            labels=True, scores=True, trees=self._trees is not None, n_classes=n_classes
        )
        self.n_features = int(booster.num_feature())

    def tree_ensemble(self) -> TreeEnsemble:
        """The booster's trees as a TreeEnsemble (needs the `trees` capability)."""
        return _tree_ensemble(self, self._trees)

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        raw = np.asarray(self.booster.predict(x), dtype=np.float64)
        if raw.ndim == 1:
            return np.column_stack([1.0 - raw, raw])
        return raw


def _lgb_objective(booster: Any) -> tuple[str, int]:
    text = str(booster.dump_model(num_iteration=1).get("objective", ""))
    kind = text.split(" ")[0]
    if kind in ("binary", "cross_entropy"):
        return kind, 2
    if kind in ("multiclass", "softmax", "multiclassova"):
        return kind, int(booster.num_model_per_iteration())
    raise TargetError(f"lightgbm objective {text or 'unknown'!r} is not a probabilistic classifier")
