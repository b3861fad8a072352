"""SklearnTarget: capabilities, label encoding, and analytic gradients vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from redwatch.exceptions import DataError, ProbeError, QueryBudgetExceeded
from redwatch.targets.sklearn_target import SklearnTarget

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
BC_X, BC_Y = load_breast_cancer(return_X_y=True)


def _ce(target: SklearnTarget, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = target.estimator.predict_proba(x)
    return -np.log(p[np.arange(len(y)), y])


def _finite_difference(target: SklearnTarget, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    eps = 1e-6
    grad = np.zeros_like(x)
    for j in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[j] = eps
        grad[:, j] = (_ce(target, x + step, y) - _ce(target, x - step, y)) / (2 * eps)
    return grad


@pytest.mark.parametrize(
    "scalers",
    [
        (),
        (StandardScaler(),),
        (MinMaxScaler(),),
        (MaxAbsScaler(),),
        (StandardScaler(), MinMaxScaler()),
    ],
)
@pytest.mark.parametrize("dataset", ["iris", "breast_cancer"])
def test_gradient_matches_finite_differences(scalers: tuple[object, ...], dataset: str) -> None:
    x, y = (IRIS_X, IRIS_Y) if dataset == "iris" else (BC_X[:, :6], BC_Y)
    model = (
        make_pipeline(*scalers, LogisticRegression(max_iter=2000))
        if scalers
        else (LogisticRegression(max_iter=5000))
    )
    target = SklearnTarget(model.fit(x, y))
    assert target.capabilities.gradients
    rng = np.random.default_rng(0)
    rows = rng.choice(len(x), 8, replace=False)
    xs, ys = x[rows], target.encode_labels(y[rows])
    analytic = target.loss_gradient(xs, ys)
    numeric = _finite_difference(target, xs, ys)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)
    assert np.abs(analytic).max() > 1e-4  # not trivially zero


def test_string_classes_are_encoded_and_scores_follow_classes_order() -> None:
    names = np.array(["setosa", "versicolor", "virginica"])[IRIS_Y]
    target = SklearnTarget(LogisticRegression(max_iter=500).fit(IRIS_X, names), name="iris")
    assert list(target.classes) == ["setosa", "versicolor", "virginica"]
    assert target.capabilities.n_classes == 3
    idx = target.encode_labels(names)
    assert (target.predict(IRIS_X) == idx).mean() > 0.9
    with pytest.raises(DataError, match="'daisy' is not a class"):
        target.encode_labels(np.array(["daisy"]))


def test_labels_only_models_and_non_linear_models() -> None:
    svc = SklearnTarget(SVC().fit(IRIS_X, IRIS_Y))
    assert svc.capabilities.names == {"labels", "trainable"}
    assert (svc.predict(IRIS_X) == IRIS_Y).mean() > 0.9
    with pytest.raises(ProbeError, match="labels only"):
        svc.predict_proba(IRIS_X[:2])
    tree = SklearnTarget(DecisionTreeClassifier(random_state=0).fit(IRIS_X, IRIS_Y + 10))
    assert tree.capabilities.names == {"labels", "scores", "trees", "trainable"}
    assert (tree.predict(IRIS_X) == IRIS_Y).mean() > 0.95
    with pytest.raises(ProbeError, match="gradients"):
        tree.loss_gradient(IRIS_X[:2], IRIS_Y[:2])
    svc_labels = SklearnTarget(SVC().fit(IRIS_X, IRIS_Y + 5))
    assert set(svc_labels.predict(IRIS_X)) <= {0, 1, 2}


def test_queries_are_counted_and_budget_enforced() -> None:
    target = SklearnTarget(LogisticRegression(max_iter=500).fit(IRIS_X, IRIS_Y))
    target.query_budget = 25
    target.predict_proba(IRIS_X[:10])
    target.predict(IRIS_X[:10])
    assert target.queries == 20
    with pytest.raises(QueryBudgetExceeded):
        target.predict(IRIS_X[:6])
    assert target.queries == 20
    target.loss_gradient(IRIS_X[:5], IRIS_Y[:5])
    assert target.remaining == 0


def test_a_deadline_refuses_queries_inside_its_block_only() -> None:
    import time

    target = SklearnTarget(LogisticRegression(max_iter=500).fit(IRIS_X, IRIS_Y))
    with target.until(time.monotonic() + 60):
        target.predict(IRIS_X[:3])  # before the deadline: answered
        with target.until(time.monotonic() - 1), pytest.raises(QueryBudgetExceeded, match="time"):
            target.predict(IRIS_X[:3])  # the tighter (past) deadline wins inside
        target.predict(IRIS_X[:3])  # the outer deadline is back
    with target.until(None):
        target.predict(IRIS_X[:3])  # None adds no cap
    assert target.queries == 9  # the refused call was not counted
