"""Boosters: raw xgboost/lightgbm boosters and their scikit-learn wrappers give real scores."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_breast_cancer, load_iris

from redwatch.exceptions import TargetError
from redwatch.targets.boosting_target import LightGBMBoosterTarget, XGBoostBoosterTarget
from redwatch.targets.detect import from_object
from redwatch.targets.sklearn_target import SklearnTarget

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
BC_X, BC_Y = load_breast_cancer(return_X_y=True)


@pytest.mark.parametrize(
    ("objective", "x", "y", "k"),
    [("binary:logistic", BC_X, BC_Y, 2), ("multi:softprob", IRIS_X, IRIS_Y, 3)],
)
def test_xgboost_booster_scores(objective: str, x: np.ndarray, y: np.ndarray, k: int) -> None:
    params = {"objective": objective, "max_depth": 3, "seed": 0, "nthread": 1}
    if k > 2:
        params["num_class"] = k
    booster = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=10)
    target = from_object(booster, name="xgb")
    assert isinstance(target, XGBoostBoosterTarget)
    assert target.capabilities.n_classes == k
    assert target.capabilities.scores
    proba = target.predict_proba(x)
    assert proba.shape == (len(x), k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (target.predict(x) == y).mean() > 0.9


def test_xgboost_softmax_is_labels_only_and_regression_is_refused() -> None:
    params = {"objective": "multi:softmax", "num_class": 3, "seed": 0, "nthread": 1}
    booster = xgboost.train(params, xgboost.DMatrix(IRIS_X, label=IRIS_Y), num_boost_round=5)
    target = XGBoostBoosterTarget(booster)
    assert target.capabilities.names == {"labels", "trees"}
    assert (target.predict(IRIS_X) == IRIS_Y).mean() > 0.9
    reg = xgboost.train({"nthread": 1}, xgboost.DMatrix(IRIS_X, label=IRIS_Y), 2)
    with pytest.raises(TargetError, match="not a classification objective"):
        XGBoostBoosterTarget(reg)


@pytest.mark.parametrize(("x", "y", "k"), [(BC_X, BC_Y, 2), (IRIS_X, IRIS_Y, 3)])
def test_lightgbm_booster_scores(x: np.ndarray, y: np.ndarray, k: int) -> None:
    params = {"objective": "binary" if k == 2 else "multiclass", "verbose": -1, "seed": 0}
    if k > 2:
        params["num_class"] = k
    booster = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=10)
    target = from_object(booster, name="lgb")
    assert isinstance(target, LightGBMBoosterTarget)
    assert target.capabilities.n_classes == k
    proba = target.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (target.predict(x) == y).mean() > 0.9


def test_sklearn_wrappers_go_through_sklearn_target() -> None:
    for model in (
        xgboost.XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1),
        lightgbm.LGBMClassifier(n_estimators=10, verbose=-1),
    ):
        target = from_object(model.fit(IRIS_X, IRIS_Y), name="m")
        assert isinstance(target, SklearnTarget)
        assert target.capabilities.names == {"labels", "scores", "trees", "trainable"}
        assert (target.predict(IRIS_X) == IRIS_Y).mean() > 0.9
