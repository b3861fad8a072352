"""Adapter for scikit-learn API classifiers (incl. Pipelines, XGBClassifier, LGBMClassifier).

Scores come from `predict_proba` when the model has it, else labels only. Logistic regression,
alone or behind per-feature affine scalers, also gets analytic input gradients of the
cross-entropy loss, which makes white-box attacks possible without a deep-learning framework.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.attacks.losses import logit_loss
from redwatch.attacks.trees.ensemble import TreeEnsemble, extract
from redwatch.exceptions import ProbeError, TargetError
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities


@dataclass(frozen=True)
class _Affine:
    """z = x * scale + shift, per feature; `clip` bounds z when the scaler clips."""

    scale: np.ndarray
    shift: np.ndarray
    clip: tuple[float, float] | None = None


class SklearnTarget(Target):
    """Any scikit-learn API classifier; gradients for (scaled) logistic regression."""

    gradient_losses: tuple[str, ...] = ("ce", "dlr")

    def __init__(self, estimator: Any, name: str = "model") -> None:
        if not hasattr(estimator, "predict"):
            raise TargetError(f"object of type {type(estimator).__name__} has no predict()")
        self.estimator = estimator
        self.name = name
        classes = getattr(estimator, "classes_", None)
        self.classes = None if classes is None else np.asarray(classes)
        names = getattr(estimator, "feature_names_in_", None)
        self.feature_names = None if names is None else tuple(str(n) for n in names)
        n_in = getattr(estimator, "n_features_in_", None)
        self.n_features = None if n_in is None else int(n_in)
        self._trees = extract(estimator)
        self.capabilities = Capabilities(
            labels=True,
            scores=hasattr(estimator, "predict_proba"),
            gradients=_linear_chain(estimator) is not None,
            trees=self._trees is not None,
            trainable=hasattr(estimator, "fit") and hasattr(estimator, "get_params"),
            n_classes=None if self.classes is None else len(self.classes),
        )

    def tree_ensemble(self) -> TreeEnsemble:
        """The model's trees as a TreeEnsemble (needs the `trees` capability)."""
        if self._trees is None:
            raise ProbeError(f"target {self.name} is not a supported tree ensemble")
        return self._trees

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        with _unnamed_ok():
            proba = np.asarray(self.estimator.predict_proba(x), dtype=np.float64)
        if proba.ndim == 1:
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        with _unnamed_ok():
            raw = np.asarray(self.estimator.predict(x))
        if self.classes is None:
            return raw.astype(np.int64)
        return self.encode_labels(raw)

    def _loss_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        affines, model = self._chain()
        z, pre = _through(affines, x)
        return _back(affines, pre, _logistic_gradient(model, z, y))

    def _loss_value_and_gradient(
        self, x: np.ndarray, y: np.ndarray, loss: str, y_target: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """CE or DLR on the model's log-probabilities (logits up to a per-row shift)."""
        affines, model = self._chain()
        z, pre = _through(affines, x)
        u, du_back = _logit_view(model, z)
        values, grad_u = logit_loss(u, y, loss, y_target)
        return values, _back(affines, pre, du_back(grad_u))

    def _chain(self) -> tuple[list[_Affine], Any]:
        chain = _linear_chain(self.estimator)
        if chain is None:
            raise ProbeError(f"target {self.name} does not expose gradients")
        return chain


def _through(affines: list[_Affine], x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Apply the scalers; returns the final z and each scaler's pre-clip output."""
    z, pre = x, []
    for step in affines:
        z = z * step.scale + step.shift
        pre.append(z)
        if step.clip is not None:
            z = np.clip(z, *step.clip)
    return z, pre


def _back(affines: list[_Affine], pre: list[np.ndarray], grad: np.ndarray) -> np.ndarray:
    """Chain a gradient w.r.t. the final z back to the raw input (zero where a scaler clips)."""
    for step, z in zip(reversed(affines), reversed(pre), strict=True):
        if step.clip is not None:
            grad = grad * ((z >= step.clip[0]) & (z <= step.clip[1]))
        grad = grad * step.scale
    return grad


def _logit_view(model: Any, z: np.ndarray) -> tuple[np.ndarray, Any]:
    """Logits u with softmax(u) == predict_proba, and the map from dL/du back to dL/dz."""
    w = np.asarray(model.coef_, dtype=np.float64)
    b = np.asarray(model.intercept_, dtype=np.float64)
    raw = z @ w.T + b
    if w.shape[0] == 1:  # binary: proba = [1 - σ(l), σ(l)] = softmax([0, l])
        u = np.column_stack([np.zeros(len(z)), raw[:, 0]])
        return u, lambda g: g[:, 1:2] * w[0]
    if not _is_ovr(model):
        return raw, lambda g: g @ w
    # one-vs-rest: p_k = s_k / Σ s_j, u = log p; du_k/dl_j = δ_kj (1 - s_j) - s_j (1 - s_j) / Σ s
    log_s = -np.logaddexp(0.0, -raw)
    s, one_minus = np.exp(log_s), np.exp(-np.logaddexp(0.0, raw))
    total = s.sum(axis=1, keepdims=True)
    u = log_s - np.log(total)

    def back(g: np.ndarray) -> np.ndarray:
        dl = g * one_minus - g.sum(axis=1, keepdims=True) * s * one_minus / total
        return np.asarray(dl @ w)

    return u, back


def _linear_chain(estimator: Any) -> tuple[list[_Affine], Any] | None:
    """(affine steps, logistic model) when the gradient is analytic, else None."""
    steps = getattr(estimator, "steps", None)
    if steps is None:
        return ([], estimator) if _is_logistic(estimator) else None
    *pre, (_, last) = steps
    if not _is_logistic(last):
        return None
    affines = []
    for _, step in pre:
        if step is None or step == "passthrough":
            continue
        affine = _affine(step)
        if affine is None:
            return None
        affines.append(affine)
    return affines, last


def _is_logistic(model: Any) -> bool:
    from sklearn.linear_model import LogisticRegression

    return isinstance(model, LogisticRegression) and hasattr(model, "coef_")


def _affine(step: Any) -> _Affine | None:
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

    if isinstance(step, StandardScaler):
        n = int(step.n_features_in_)
        mean = np.zeros(n) if step.mean_ is None else np.asarray(step.mean_, dtype=np.float64)
        scale = np.ones(n) if step.scale_ is None else np.asarray(step.scale_, dtype=np.float64)
        return _Affine(1.0 / scale, -mean / scale)
    if isinstance(step, MinMaxScaler):
        lo, hi = step.feature_range
        clip = (float(lo), float(hi)) if step.clip else None
        return _Affine(np.asarray(step.scale_, np.float64), np.asarray(step.min_, np.float64), clip)
    if isinstance(step, MaxAbsScaler):
        scale = np.asarray(step.scale_, dtype=np.float64)
        return _Affine(1.0 / scale, np.zeros_like(scale))
    return None


def _logistic_gradient(model: Any, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d CE(predict_proba(z), y) / dz for a fitted LogisticRegression."""
    w = np.asarray(model.coef_, dtype=np.float64)
    b = np.asarray(model.intercept_, dtype=np.float64)
    logits = z @ w.T + b
    if w.shape[0] == 1:
        p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return (p1 - (y == 1))[:, None] * w[0]
    if _is_ovr(model):
        return _ovr_gradient(logits, w, y)
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return np.asarray(p @ w)


def _is_ovr(model: Any) -> bool:
    multi = getattr(model, "multi_class", "auto")
    return multi == "ovr" or (multi == "auto" and getattr(model, "solver", "") == "liblinear")


def _ovr_gradient(logits: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One-vs-rest: p_k = s_k / sum_j s_j with s = sigmoid(logits)."""
    s = 1.0 / (1.0 + np.exp(-logits))
    ds = s * (1.0 - s)
    total = s.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    grad_y = (ds[rows, y] / s[rows, y])[:, None] * w[y]
    grad_total = (ds @ w) / total
    return np.asarray(-(grad_y - grad_total))


@contextmanager
def _unnamed_ok() -> Iterator[None]:
    """Columns arrive as a plain array, already aligned to the fitted feature names by the
    engine; silence scikit-learn's reminder that the array has no names."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield
