"""Small real models shared by the attack tests: numpy views of trained sklearn models, a
tiny torch MLP, and a metered wrapper that raises QueryBudgetExceeded like a Target does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from redwatch.demo.models import DemoModel, train_credit_gbm, train_digits_logreg
from redwatch.exceptions import QueryBudgetExceeded


@dataclass(frozen=True)
class Linear:
    """A trained multinomial/binary logistic model as numpy functions."""

    w: np.ndarray  # (K, d)
    b: np.ndarray  # (K,)
    x: np.ndarray  # correctly classified held-out rows in [0, 1]
    y: np.ndarray

    def proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w.T + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.proba(x).argmax(axis=1)

    def grad(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = self.proba(x)
        p[np.arange(len(y)), y] -= 1.0
        return p @ self.w


def _correct(pred: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, n: int):
    ok = np.flatnonzero(pred(x) == y)[:n]
    return x[ok], y[ok]


@cache
def _digits_demo() -> DemoModel:
    return train_digits_logreg(seed=0)


@cache
def digits() -> Linear:
    """Logistic regression on digits in [0, 1] (64 features, 10 classes), 60 test rows."""
    demo = _digits_demo()
    w, b = demo.model.coef_, demo.model.intercept_
    probe = Linear(w, b, demo.x_test, demo.y_test)
    x, y = _correct(probe.predict, demo.x_test, demo.y_test, 60)
    return Linear(w, b, x, y)


@cache
def cancer() -> Linear:
    """Binary logistic regression on breast cancer min-max scaled to [0, 1] (30 features)."""
    data = load_breast_cancer()
    x = (data.data - data.data.min(0)) / np.ptp(data.data, axis=0)
    y = data.target.astype(np.int64)
    model = LogisticRegression(max_iter=2000).fit(x[::2], y[::2])
    coef = model.coef_[0]
    w = np.stack([-coef / 2, coef / 2])  # two-class softmax equivalent of the binary model
    b = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    probe = Linear(w, b, x[1::2], y[1::2])
    xs, ys = _correct(probe.predict, x[1::2], y[1::2], 40)
    return Linear(w, b, xs, ys)


@cache
def credit() -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]:
    """Credit XGBoost seen in [0, 1] units: (proba_fn, x, y) with 20 correct test rows."""
    demo = train_credit_gbm(seed=0)
    lo, span = demo.x_train.min(0), np.ptp(demo.x_train, axis=0)

    def proba(z: np.ndarray) -> np.ndarray:
        return np.asarray(demo.model.predict_proba(lo + z * span))

    z = np.clip((demo.x_test - lo) / span, 0, 1)
    x, y = _correct(lambda v: proba(v).argmax(1), z, demo.y_test, 20)
    return proba, x, y


@cache
def mlp() -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    """Tiny torch MLP (64-32-10) on digits, with 60 correctly classified test rows."""
    demo = _digits_demo()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt = torch.as_tensor(demo.x_train, dtype=torch.float32)
    yt = torch.as_tensor(demo.y_train)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    net.eval()
    x, y = _correct(lambda v: torch_predict(net, v), demo.x_test, demo.y_test, 60)
    return net, x, y


def torch_predict(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()


def torch_grad(net: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    t = torch.as_tensor(x, dtype=torch.float32).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(net(t), torch.as_tensor(y), reduction="sum")
    (g,) = torch.autograd.grad(loss, t)
    return g.numpy().astype(np.float64)


class Metered:
    """Counts rows and calls; raises QueryBudgetExceeded (before spending) past `budget`."""

    def __init__(self, fn: Callable[..., np.ndarray], budget: int | None = None) -> None:
        self.fn = fn
        self.budget = budget
        self.rows = 0
        self.calls = 0
        self.batch_sizes: list[int] = []

    def __call__(self, x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        if self.budget is not None and self.rows + len(x) > self.budget:
            raise QueryBudgetExceeded(f"budget of {self.budget} rows spent")
        self.rows += len(x)
        self.calls += 1
        self.batch_sizes.append(len(x))
        return self.fn(x, *rest)
