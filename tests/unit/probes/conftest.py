"""Real small models shared by the probe tests."""

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
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
