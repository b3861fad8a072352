"""Demo models trained on the bundled datasets, deterministic for a given seed: a credit
gradient-boosted model (XGBoost), a digits logistic regression and a small MNIST CNN (torch).

Each trainer returns a DemoModel holding the model and its train / held-out split, so that
attacks and probes run on data the model never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from redwatch.demo.datasets import (
    CREDIT_FEATURES,
    load_credit_default,
    load_digits_01,
    load_mnist5k,
)
from redwatch.exceptions import UsageError
from redwatch.ip.recipe import fit_torch


@dataclass
class DemoModel:
    """A trained demo model and the data split it was trained and evaluated on."""

    model: Any
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]

    def accuracy(self) -> float:
        """Held-out accuracy (class indices from `predict`, or argmax of a torch module)."""
        return float(np.mean(predict_labels(self.model, self.x_test) == self.y_test))


def predict_labels(model: Any, x: np.ndarray) -> np.ndarray:
    """Labels from an sklearn-style model or a torch module returning logits."""
    if hasattr(model, "predict"):
        return np.asarray(model.predict(x)).astype(np.int64)
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(np.asarray(x), dtype=torch.float32))
    return np.asarray(logits.argmax(dim=1).numpy(), dtype=np.int64)


def train_credit_gbm(seed: int = 0, n_estimators: int = 100, max_depth: int = 4) -> DemoModel:
    """XGBoost classifier on ISLR Default (raw feature units), 80/20 stratified split."""
    from xgboost import XGBClassifier

    x, y = load_credit_default()
    xtr, xte, ytr, yte = train_test_split(
        x.to_numpy(np.float64), y.to_numpy(), test_size=0.2, random_state=seed, stratify=y
    )
    model = XGBClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=0.1,
        tree_method="hist",
        random_state=seed,
        n_jobs=1,
    )
    model.fit(xtr, ytr)
    return DemoModel(model, xtr, ytr, xte, yte, CREDIT_FEATURES)


def train_digits_logreg(seed: int = 0) -> DemoModel:
    """Logistic regression on digits scaled to [0, 1], 75/25 stratified split."""
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits_01()
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    model = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
    with threadpool_limits(1):  # threaded BLAS only thrashes on a problem this small
        model.fit(xtr, ytr)
    return DemoModel(model, xtr, ytr, xte, yte, tuple(f"pixel_{i}" for i in range(64)))


def train_mnist_cnn(
    seed: int = 0,
    epochs: int = 6,
    batch_size: int = 64,
    lr: float = 2e-3,
    threads: int | None = None,
) -> DemoModel:
    """Small CNN (2 conv + 1 linear) on 4,000 MNIST images, held-out 1,000.

    The module takes flattened rows (n, 784) or images (n, 1, 28, 28) in [0, 1] and returns
    logits; it is left in eval mode. `threads`, when given, is passed to torch.set_num_threads.
    """
    import torch

    from redwatch.demo.mnist_net import MnistCNN

    if epochs < 1 or batch_size < 1:
        raise UsageError("epochs and batch_size must be positive")
    if threads is not None:
        torch.set_num_threads(threads)
    x, y = load_mnist5k()
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=1000, random_state=seed, stratify=y)
    torch.manual_seed(seed)
    net = MnistCNN()
    fit_torch(net, xtr, ytr, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    names = tuple(f"pixel_{i}" for i in range(784))
    return DemoModel(net, xtr, ytr, xte, yte, names)
