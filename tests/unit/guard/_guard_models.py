"""A real model on real data for the guard tests: wine, three classes, and its InputSpec."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.targets.spec import InputSpec


@dataclass(frozen=True)
class WineCase:
    """A logistic regression on the wine data and the spec inferred from it (bounds of the
    data; magnesium and proline are whole numbers)."""

    model: Pipeline
    x: np.ndarray
    y: np.ndarray
    spec: InputSpec


@cache
def wine_case() -> WineCase:
    """Train once per test process (seeded)."""
    data = load_wine()
    x, y = data.data.astype(np.float64), data.target
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=0))
    model.fit(x, y)
    names = [n.replace("/", "_") for n in data.feature_names]
    return WineCase(model, x, y, InputSpec.from_data(x, names))
