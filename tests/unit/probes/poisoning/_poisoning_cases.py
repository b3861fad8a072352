"""Small real targets for the poisoning probe tests, fitted on one BLAS thread."""

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec


@dataclass
class Case:
    target: SklearnTarget
    x: np.ndarray
    y: np.ndarray


def digits_case() -> Case:
    """Logistic regression on 8x8 digits in [0, 1], declared as images."""
    data = load_digits()
    x, y = data.data / 16.0, data.target
    with threadpool_limits(1):
        model = LogisticRegression(max_iter=300).fit(x, y)
    target = SklearnTarget(model, name="digits-logreg")
    names = tuple(f"p{i}" for i in range(64))
    target.set_input_spec(InputSpec(names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8)))
    return Case(target, x, y)


def cancer_case() -> Case:
    """Scaled logistic regression on breast cancer (a table)."""
    data = load_breast_cancer()
    x, y = data.data, data.target
    with threadpool_limits(1):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    target = SklearnTarget(model, name="cancer-logreg")
    target.set_input_spec(InputSpec.from_data(x, list(data.feature_names)))
    return Case(target, x, y)
