"""Surrogate models trained from a prediction API's answers: what a model thief builds.

An answer is what the API returned for one query, as a row of class weights: the full
probabilities, a one-hot top-1 label, or rounded scores. A surrogate learns from those rows by
weighted duplication: each query appears once per class it got weight on, with that weight as
the sample weight. The weighted cross-entropy is then exactly the soft-label (distillation)
loss, so one scikit-learn learner handles every output mode. Image targets get a small
generic PyTorch CNN (not the victim's architecture: a thief would not know it) trained on the
answers as soft targets. Pure functions, no metering.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from redwatch.exceptions import UsageError
from redwatch.ip.recipe import one_torch_thread

OUTPUT_MODES = ("probabilities", "label", "rounded")
LEARNERS = ("auto", "mlp", "gbm", "cnn")
MIN_WEIGHT = 0.01  # soft targets below this weight are dropped before duplication

AnswerTransform = Callable[[np.ndarray], np.ndarray]
"""(n, K) probabilities -> (n, K) class weights the client gets to see."""


def label_answers(proba: np.ndarray) -> np.ndarray:
    """Top-1 label only: a one-hot row per query."""
    p = np.asarray(proba, dtype=np.float64)
    out = np.zeros_like(p)
    out[np.arange(len(p)), p.argmax(axis=1)] = 1.0
    return out


def rounded_answers(proba: np.ndarray, decimals: int = 1) -> np.ndarray:
    """Scores rounded to `decimals`; a row that rounds to all zeros keeps its top-1 label."""
    p = np.round(np.asarray(proba, dtype=np.float64), decimals)
    empty = p.sum(axis=1) <= 0
    if empty.any():
        p[empty] = label_answers(np.asarray(proba)[empty])
    return p


def output_modes(decimals: int = 1) -> dict[str, AnswerTransform]:
    """The three output modes an extraction probe compares, by name."""
    return {
        "probabilities": lambda p: np.asarray(p, dtype=np.float64),
        "label": label_answers,
        "rounded": lambda p: rounded_answers(p, decimals),
    }


def expand_soft(
    x: np.ndarray, weights: np.ndarray, min_weight: float = MIN_WEIGHT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, labels, sample weights): every row repeated once per class whose normalised
    weight is at least `min_weight`. A one-hot row comes out once with weight 1."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if w.ndim != 2 or len(w) != len(x):
        raise UsageError(f"answers must be (n, K) for {len(x)} rows, got shape {w.shape}")
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 0.0)
    rows, cols = np.nonzero(w >= min_weight)
    return np.asarray(x)[rows], cols.astype(np.int64), w[rows, cols]


@dataclass
class Surrogate:
    """A fitted stand-in for the target: `predict` gives class indices 0..K-1."""

    model: Any
    classes: np.ndarray  # class index of each output column of `model`
    scaler: tuple[np.ndarray, np.ndarray] | None = None  # (mean, std) for MLP inputs

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices for rows x; a one-class surrogate always answers that class."""
        x = np.asarray(x, dtype=np.float64)
        if self.model is None:
            return np.full(len(x), int(self.classes[0]), dtype=np.int64)
        if self.scaler is not None:
            x = (x - self.scaler[0]) / self.scaler[1]
        with threadpool_limits(1):
            idx = np.asarray(self.model.predict(x)).astype(np.int64)
        return idx


def resolve_learner(
    learner: str, image_shape: tuple[int, ...] | None = None
) -> tuple[str, str | None]:
    """(learner actually used, note): `auto` is `cnn` for images and `mlp` otherwise; `cnn`
    falls back to the MLP, with a note saying so, when torch cannot be imported."""
    if learner not in LEARNERS:
        raise UsageError(f"unknown surrogate learner {learner!r}; expected one of {LEARNERS}")
    if learner == "auto":
        learner = "cnn" if image_shape else "mlp"
    if learner != "cnn":
        return learner, None
    if not image_shape:
        raise UsageError("surrogate learner 'cnn' needs an image target (InputSpec.image_shape)")
    try:
        import torch  # noqa: F401
    except ImportError:
        return "mlp", (
            "torch is not installed (pip install 'redwatch[torch]'): the image surrogate fell "
            "back to a scikit-learn MLP, so fidelity understates what a CNN thief gets"
        )
    return "cnn", None


def fit_surrogate(
    x: np.ndarray,
    answers: np.ndarray,
    *,
    learner: str = "auto",
    seed: int = 0,
    max_iter: int = 100,
    hidden: tuple[int, ...] = (64, 64),
    image_shape: tuple[int, ...] | None = None,
) -> Surrogate:
    """Train a surrogate on queries `x` and the API's `answers` ((n, K) class weights).

    `learner` is "auto" (cnn for images, else mlp), "mlp" (standardised inputs, scikit-learn
    MLP, soft labels by weighted duplication), "gbm" (histogram gradient boosting, same
    weighting; tables) or "cnn" (small PyTorch CNN on rows reshaped to `image_shape`)."""
    learner, _ = resolve_learner(learner, image_shape)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise UsageError(f"a surrogate needs a non-empty 2-D query table, got {x.shape}")
    rows, labels, weights = expand_soft(x, answers)
    seen = np.unique(labels)
    if len(seen) < 2:
        return Surrogate(None, seen if len(seen) else np.zeros(1, np.int64))
    if learner == "cnn" and image_shape:
        net = _fit_cnn(x, np.asarray(answers, dtype=np.float64), image_shape, seed)
        return Surrogate(net, np.arange(np.shape(answers)[1], dtype=np.int64))
    if learner == "gbm":
        return _fit_gbm(rows, labels, weights, seed, max_iter)
    return _fit_mlp(x, rows, labels, weights, seed, max_iter, hidden)


def _fit_gbm(
    rows: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int, max_iter: int
) -> Surrogate:
    """Histogram gradient boosting on the duplicated, weighted rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=min(max_iter, 200), learning_rate=0.1, random_state=seed, early_stopping=False
    )
    with threadpool_limits(1):
        model.fit(rows, labels, sample_weight=weights)
    return Surrogate(model, np.asarray(model.classes_, dtype=np.int64))


def _fit_mlp(
    x: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    seed: int,
    max_iter: int,
    hidden: tuple[int, ...],
) -> Surrogate:
    """Scikit-learn MLP on inputs standardised with the queries' own mean and spread."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    model = MLPClassifier(
        hidden_layer_sizes=hidden,
        max_iter=max_iter,
        learning_rate_init=2e-3,
        alpha=1e-4,
        random_state=seed,
        n_iter_no_change=8,
        tol=1e-3,
    )
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit((rows - mean) / std, labels, sample_weight=weights)
    return Surrogate(model, np.asarray(model.classes_, dtype=np.int64), (mean, std))


CNN_EPOCHS = 12
CNN_MIN_STEPS = 150  # small query sets get more epochs, so every checkpoint trains enough
CNN_BATCH = 64


class _ImageNet:
    """A trained torch CNN behind an sklearn-like `predict` (argmax over answer columns)."""

    def __init__(self, net: Any, shape: tuple[int, int, int], scale: tuple[float, float]) -> None:
        """Store the module, the (C, H, W) rows are reshaped to, and the input (mean, std)."""
        self.net, self.shape, self.scale = net, shape, scale

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Column index of the largest logit for each row."""
        import torch

        batches: Any = _images(x, self.shape, self.scale).split(512)
        with one_torch_thread(), torch.no_grad():
            logits = torch.cat([self.net(b) for b in batches])
        return np.asarray(logits.argmax(dim=1).numpy(), dtype=np.int64)


def _images(x: np.ndarray, shape: tuple[int, int, int], scale: tuple[float, float]) -> Any:
    """Rows standardised by one (mean, std) and reshaped to a float32 (n, C, H, W) tensor."""
    import torch

    t = torch.as_tensor((np.asarray(x) - scale[0]) / scale[1], dtype=torch.float32)
    return t.reshape(len(t), *shape)


def small_cnn(image_shape: tuple[int, int, int], n_classes: int) -> Any:
    """A generic two-block CNN (32 and 64 filters, then one linear layer) for (C, H, W)
    images of any size: what a thief tries first, not the victim's own architecture. The
    flattened map keeps where strokes are, which transfers across domains far better than
    global pooling did on the demo MNIST model."""
    from torch import nn

    channels, height, width = image_shape
    cells = math.ceil(height / 4) * math.ceil(width / 4)  # after two ceil-mode halvings
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(64 * cells, n_classes),
    )


def _chw(image_shape: tuple[int, ...], n_features: int) -> tuple[int, int, int]:
    """(C, H, W) from an InputSpec image shape ((C, H, W) or (H, W)) that fits the rows."""
    shape = tuple(int(d) for d in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or int(np.prod(shape)) != n_features or min(shape) < 1:
        raise UsageError(f"image shape {image_shape} does not fit rows of {n_features} values")
    return shape[0], shape[1], shape[2]


def _fit_cnn(
    x: np.ndarray, answers: np.ndarray, image_shape: tuple[int, ...], seed: int
) -> _ImageNet:
    """Adam on the cross-entropy against the normalised answers (soft targets: the
    distillation loss; one-hot label answers make it the ordinary hard-label loss)."""
    import torch

    shape = _chw(image_shape, x.shape[1])
    w = answers.clip(0.0, None)
    total = w.sum(axis=1, keepdims=True)
    target = torch.as_tensor(w / np.where(total > 0, total, 1.0), dtype=torch.float32)
    scale = (float(x.mean()), float(x.std()) or 1.0)
    xt = _images(x, shape, scale)
    epochs = max(CNN_EPOCHS, math.ceil(CNN_MIN_STEPS * CNN_BATCH / len(x)))
    gen = torch.Generator().manual_seed(seed)
    with one_torch_thread():
        torch.manual_seed(seed)
        net = small_cnn(shape, target.shape[1])
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        for _ in range(epochs):
            order: Any = torch.randperm(len(xt), generator=gen)
            for idx in order.split(CNN_BATCH):
                opt.zero_grad()
                logp = torch.log_softmax(net(xt[idx]), dim=1)
                loss: Any = -(target[idx] * logp).sum(dim=1).mean()
                loss.backward()
                opt.step()
        net.eval()
    return _ImageNet(net, shape, scale)
