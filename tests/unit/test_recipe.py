"""Training recipes (redwatch.recipe): sklearn clone + fit, re-initialised PyTorch modules, a
user's training function, bad references, and probabilities in class-index order."""

import numpy as np
import pytest
import torch
import xgboost
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from redwatch.exceptions import TargetError, UsageError
from redwatch.recipe import recipe_for, trainable
from redwatch.targets.boosting_target import XGBoostBoosterTarget
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.torch_target import TorchTarget

IRIS = load_iris()
X, Y = IRIS.data, IRIS.target


def _logreg() -> SklearnTarget:
    with threadpool_limits(1):
        return SklearnTarget(LogisticRegression(max_iter=500).fit(X, Y), name="iris")


def test_sklearn_recipe_clones_sets_the_seed_and_leaves_the_target_alone() -> None:
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    target = SklearnTarget(forest, name="forest")
    recipe = recipe_for(target)
    assert recipe.describe() == "sklearn clone + fit of RandomForestClassifier"
    before = forest.predict_proba(X)
    model = recipe.fit(X, Y, seed=7)
    assert model is not forest
    assert model.random_state == 7
    assert np.array_equal(forest.predict_proba(X), before)
    assert (recipe.predict(model, X) == Y).mean() > 0.9
    again = recipe.fit(X, Y, seed=7)
    assert np.array_equal(recipe.predict_proba(again, X), recipe.predict_proba(model, X))


class _Net(torch.nn.Sequential):
    def __init__(self) -> None:
        super().__init__(
            torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10)
        )


def test_torch_recipe_reinitialises_a_copy_and_trains_it() -> None:
    torch.set_num_threads(1)
    digits = load_digits()
    x, y = digits.data[:600] / 16.0, digits.target[:600]
    net = _Net()
    weights = [p.detach().clone() for p in net.parameters()]
    target = TorchTarget(net, input_shape=(1, 8, 8), n_classes=10)
    recipe = recipe_for(target, {"epochs": 8})
    assert recipe.describe() == "re-initialised PyTorch module of _Net"
    assert recipe.epochs == 8
    model = recipe.fit(x, y, seed=1)
    assert model is not net
    assert all(torch.equal(a, b) for a, b in zip(weights, net.parameters(), strict=True))
    assert (recipe.predict(model, x) == y).mean() > 0.7  # untrained: about 0.1
    proba = recipe.predict_proba(model, x[:5])
    assert proba.shape == (5, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    scripted = TorchTarget(torch.jit.script(_Net()), input_shape=(1, 8, 8), n_classes=10)
    assert trainable(target)
    assert not trainable(scripted)
    with pytest.raises(UsageError, match="TorchScript"):
        recipe_for(scripted)
    # a torch target that does not declare its classes learns them from one forward pass
    assert recipe_for(TorchTarget(_Net(), input_shape=(1, 8, 8))).n_classes == 10
    with pytest.raises(TargetError, match="needs input_shape or n_classes"):
        recipe_for(TorchTarget(_Net()))


def train_shallow_forest(x: np.ndarray, y: np.ndarray, seed: int) -> RandomForestClassifier:
    """A user's training function: what `train_recipe` names."""
    return RandomForestClassifier(n_estimators=3, max_depth=2, random_state=seed).fit(x, y)


def returns_nothing(x: np.ndarray, y: np.ndarray, seed: int) -> None:
    """A broken training function."""


def test_a_user_training_function_replaces_the_clone() -> None:
    recipe = recipe_for(_logreg(), {"train_recipe": f"{__name__}:train_shallow_forest"})
    assert recipe.describe() == f"user training function {__name__}:train_shallow_forest"
    model = recipe.fit(X, Y, seed=3)
    assert isinstance(model, RandomForestClassifier)
    assert model.max_depth == 2
    assert model.random_state == 3
    broken = recipe_for(_logreg(), {"train_recipe": f"{__name__}:returns_nothing"})
    with pytest.raises(UsageError, match="must return a fitted model"):
        broken.fit(X, Y, seed=0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"train_recipe": "no_colon_here"}, "must look like pkg.module:function"),
        ({"train_recipe": "redwatch.no_such_module:train"}, "cannot import"),
        ({"train_recipe": "redwatch.recipe:no_such_function"}, "has no attribute"),
        ({"train_recipe": "redwatch.recipe:DEFAULT_EPOCHS"}, "is not callable"),
        ({"epochs": 0}, "epochs must be positive"),
    ],
)
def test_bad_recipes_are_usage_errors(params: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        recipe_for(_logreg(), params)


def test_a_model_without_a_fit_method_is_not_trainable() -> None:
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "nthread": 1},
        xgboost.DMatrix(X, label=Y),
        num_boost_round=2,
    )
    target = XGBoostBoosterTarget(booster)
    assert not trainable(target)
    assert "trainable" not in target.capabilities.names
    with pytest.raises(UsageError, match="cannot retrain"):
        recipe_for(target)


def test_a_class_missing_from_the_training_set_keeps_its_column() -> None:
    """Trained on classes {0, 1, 3} of 4: probabilities still have 4 columns in class-index
    order (class 2 gets 0), and predictions name class 3, not its position among the seen."""
    recipe = recipe_for(SklearnTarget(LogisticRegression(max_iter=1000).fit(X, Y), name="m"))
    recipe = type(recipe)(recipe.base, 4)
    y = np.where(Y == 2, 3, Y)
    with threadpool_limits(1):
        model = recipe.fit(X, y, seed=0)
    proba = recipe.predict_proba(model, X)
    assert proba.shape == (len(X), 4)
    assert np.all(proba[:, 2] == 0)
    assert (proba.argmax(axis=1) == y).mean() > 0.9
    np.testing.assert_allclose(proba[:, [0, 1, 3]], model.predict_proba(X))
    assert set(recipe.predict(model, X).tolist()) == {0, 1, 3}
