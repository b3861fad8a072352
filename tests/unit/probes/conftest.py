"""Real small models shared by the probe tests."""

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.targets.base import Target
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec


@dataclass
class Case:
    target: Target
    x: np.ndarray
    y: np.ndarray


@pytest.fixture(scope="session")
def cancer_data() -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = load_breast_cancer()
    return data.data, data.target, list(data.feature_names)


@pytest.fixture
def cancer_logreg(cancer_data: tuple[np.ndarray, np.ndarray, list[str]]) -> Case:
    """White-box target: scaled logistic regression (scores, labels, analytic gradients)."""
    x, y, names = cancer_data
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    target = SklearnTarget(model, name="cancer-logreg")
    target.set_input_spec(InputSpec.from_data(x, names))
    return Case(target, x, y)


@pytest.fixture
def digits_image_logreg() -> Case:
    """White-box image target: logistic regression on 8x8 digits in [0, 1]."""
    data = load_digits()
    x, y = data.data / 16.0, data.target
    model = LogisticRegression(max_iter=500).fit(x, y)
    target = SklearnTarget(model, name="digits-logreg")
    spec = InputSpec.from_data(x)
    target.set_input_spec(
        InputSpec(spec.feature_names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8))
    )
    return Case(target, x, y)


@pytest.fixture
def cancer_trees(cancer_data: tuple[np.ndarray, np.ndarray, list[str]]) -> Case:
    """Tree-ensemble target: a small gradient-boosted model (structure readable)."""
    x, y, names = cancer_data
    model = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(x, y)
    target = SklearnTarget(model, name="cancer-gbm")
    target.set_input_spec(InputSpec.from_data(x, names))
    return Case(target, x, y)


@pytest.fixture
def scripted_chat() -> Case:
    """Chat target: the reference app's scripted assistant (a test double with planted
    weaknesses) called in-process; chat probes take no rows."""
    from redwatch.demo.chat_brain import ScriptedAssistant
    from redwatch.targets.chat_callable import CallableChatTarget

    target = CallableChatTarget(ScriptedAssistant().reply, name="helpbot")
    return Case(target, np.empty((0, 0)), np.empty(0, dtype=np.int64))
