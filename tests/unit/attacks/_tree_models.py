"""Small seeded tree models shared by the tree-attack tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, make_classification

from redwatch.targets.spec import InputSpec


def cancer() -> tuple[np.ndarray, np.ndarray, InputSpec]:
    """Breast-cancer data with a plain continuous spec (bounds from the data)."""
    x, y = load_breast_cancer(return_X_y=True)
    spec = InputSpec.from_data(x)
    return x, y, InputSpec(spec.feature_names, spec.lower, spec.upper)


def three_class(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A seeded three-class problem with six features."""
    x, y = make_classification(
        n_samples=600, n_features=6, n_informative=4, n_classes=3, random_state=seed
    )
    return x, y


def fit(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """Fit and return the model."""
    return model.fit(x, y)


FRAUD_FEATURES = (
    "amount",
    "balance_before",
    "balance_after",
    "age",
    "pay_card",
    "pay_wire",
    "pay_cash",
)


def fraud(n: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray, InputSpec]:
    """Synthetic transactions with declared constraints: age immutable and whole, a one-hot
    payment type, `amount >= 0` and `balance_after = balance_before - amount`."""
    rng = np.random.default_rng(seed)
    amount = np.round(rng.gamma(2.0, 150.0, n), 2)
    before = np.round(amount + rng.gamma(2.0, 800.0, n), 2)
    after = before - amount
    age = rng.integers(18, 80, n).astype(np.float64)
    pay = np.eye(3)[rng.integers(0, 3, n)]
    x = np.column_stack([amount, before, after, age, pay])
    score = amount / 300 - after / 2500 + pay[:, 2] * 1.5 - (age - 50) / 40
    y = (score + rng.normal(0, 0.5, n) > 0.6).astype(np.int64)
    spec = InputSpec.from_data(x, FRAUD_FEATURES).declare(
        bounds={"amount": (0.0, 2500.0), "balance_before": (0.0, 12000.0)},
        integer=["age"],
        immutable=["age"],
        onehot=[["pay_card", "pay_wire", "pay_cash"]],
        constraints=["amount >= 0", "balance_after = balance_before - amount"],
    )
    return x, y, spec
