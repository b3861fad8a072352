"""Training recipes: retrain the same kind of model from scratch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

from redwatch.exceptions import UsageError
from redwatch.ip.recipe import fit_like, independent_models, predict_labels, raw_model
from redwatch.targets.detect import from_object


def _digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x[:600] / 16.0, y[:600]


def test_sklearn_recipes_are_cloned_reseeded_and_unfitted_originals_untouched() -> None:
    x, y = _digits()
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    a = fit_like(forest, x, y, seed=1)
    b = fit_like(forest, x, y, seed=2)
    assert a is not forest
    assert a.random_state == 1
    assert forest.random_state == 0
    assert not all(
        np.array_equal(t1.tree_.feature, t2.tree_.feature)
        for t1, t2 in zip(a.estimators_, b.estimators_, strict=True)
    )
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y)
    again = fit_like(pipe, x, y, seed=3)
    assert np.mean(predict_labels(again, x) == y) > 0.95


def test_predict_labels_maps_classes_to_indices() -> None:
    x, y = _digits()
    letters = np.array(list("abcdefghij"))[y]
    model = LogisticRegression(max_iter=300).fit(x, letters)
    assert np.mean(predict_labels(model, x) == y) > 0.95


def test_independent_models_differ_but_all_learn() -> None:
    x, y = _digits()
    base = XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)
    base.fit(x, y)
    models = independent_models(base, x, y, n=3, seed=0)
    preds = [predict_labels(m, x) for m in models]
    assert all(np.mean(p == y) > 0.9 for p in preds)
    assert not np.array_equal(preds[0], preds[1])
    with pytest.raises(UsageError, match="at least one"):
        independent_models(base, x, y, n=0, seed=0)


def test_torch_modules_are_reinitialised_and_trained() -> None:
    torch.manual_seed(0)
    x, y = _digits()
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    fresh = fit_like(net, x, y, seed=4, epochs=15)
    assert fresh is not net
    assert not torch.equal(fresh[0].weight, net[0].weight)
    assert np.mean(predict_labels(fresh, x) == y) > 0.9
    assert np.mean(predict_labels(net, x) == y) < 0.5  # the original stays untrained


def test_raw_model_refuses_what_cannot_be_retrained() -> None:
    x, y = _digits()
    model = LogisticRegression(max_iter=300).fit(x, y)
    assert raw_model(from_object(model)) is model
    net = torch.nn.Linear(64, 10)
    assert raw_model(from_object(net, input_shape=(64,))) is net

    class Labels:
        kind = "http"

    with pytest.raises(UsageError, match="cannot retrain a http model"):
        raw_model(Labels())  # type: ignore[arg-type]
