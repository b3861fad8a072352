"""Training recipes: retrain a model of the same kind from scratch. IP protection needs this
for independent reference models (how often does an innocent model agree with a secret?)
and for re-training with a watermark; sklearn-API models are cloned, torch modules are
deep-copied and re-initialised."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.targets.base import Target

_SEED_PARAMS = ("random_state", "seed")


def raw_model(target: Target) -> Any:
    """The trainable object behind a loaded target: an sklearn-API estimator (scikit-learn,
    XGBClassifier, LGBMClassifier) or a torch module."""
    estimator = getattr(target, "estimator", None)
    if estimator is not None and hasattr(estimator, "fit"):
        return estimator
    module = getattr(target, "module", None)
    if module is not None and is_torch_module(module):
        return module
    raise UsageError(
        f"cannot retrain a {target.kind} model: IP protection needs a scikit-learn-API "
        "estimator or a PyTorch module"
    )


def is_torch_module(obj: Any) -> bool:
    """True for a torch.nn.Module (TorchScript included), without importing torch for other
    objects."""
    return any(c.__module__.startswith("torch.nn") for c in type(obj).__mro__)


def predict_labels(model: Any, x: np.ndarray, input_shape: tuple[int, ...] | None = None) -> Any:
    """Class indices 0..K-1 from an sklearn-API model or a torch module (argmax of logits),
    without query metering."""
    if hasattr(model, "predict"):
        raw = np.asarray(model.predict(x))
        classes = getattr(model, "classes_", None)
        if classes is None:
            return raw.astype(np.int64)
        index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
        return np.asarray([index[v] for v in raw.tolist()], dtype=np.int64)
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(_tensor(x, input_shape))
    return np.asarray(logits.argmax(dim=1).numpy(), dtype=np.int64)


def _tensor(x: np.ndarray, input_shape: tuple[int, ...] | None) -> Any:
    """Rows as a float32 tensor, reshaped to (n, *input_shape) when a shape is given."""
    import torch

    t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    return t.reshape(len(t), *input_shape) if input_shape else t


def fit_like(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    epochs: int = 5,
    sample_weight: np.ndarray | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Any:
    """A new model of the same recipe trained from scratch on (x, y); y are class indices."""
    y = np.asarray(y, dtype=np.int64)
    if hasattr(model, "fit") and hasattr(model, "get_params"):
        return _fit_sklearn(model, x, y, seed, sample_weight)
    if is_torch_module(model):
        net = _reinitialised(model, seed)
        return fit_torch(
            net,
            x,
            y,
            epochs=epochs,
            seed=seed,
            sample_weight=sample_weight,
            input_shape=input_shape,
        )
    raise UsageError(f"cannot retrain a {type(model).__name__}: no known training recipe")


def _fit_sklearn(
    model: Any, x: np.ndarray, y: np.ndarray, seed: int, weight: np.ndarray | None
) -> Any:
    """Clone with every seed parameter set to `seed`, then fit (weighted when asked) on one
    BLAS thread."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    fresh = clone(model)
    seeds = {k: seed for k in fresh.get_params() if k.rsplit("__", 1)[-1] in _SEED_PARAMS}
    if seeds:
        fresh.set_params(**seeds)
    with threadpool_limits(1):  # threaded BLAS only thrashes on models of this size
        if weight is None:
            fresh.fit(x, y)
        else:
            fresh.fit(x, y, sample_weight=weight)
    return fresh


def _reinitialised(model: Any, seed: int) -> Any:
    """A deep copy of a torch module with every resettable layer re-initialised."""
    import torch

    net = copy.deepcopy(model)
    torch.manual_seed(seed)
    for layer in net.modules():
        reset = getattr(layer, "reset_parameters", None)
        if callable(reset):
            reset()
    return net


def fit_torch(
    net: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    sample_weight: np.ndarray | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Any:
    """Adam with a seeded shuffle and (weighted) cross-entropy; returns net in eval mode."""
    import torch

    if epochs < 1 or batch_size < 1:
        raise UsageError("epochs and batch_size must be positive")
    xt = _tensor(x, input_shape)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    wt = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad()
            loss = _loss(net(xt[idx]), yt[idx], None if wt is None else wt[idx])
            loss.backward()
            opt.step()
    net.eval()
    return net


def _loss(logits: Any, y: Any, weight: Any) -> Any:
    """Mean cross-entropy, or its weighted mean when per-row weights are given."""
    import torch

    if weight is None:
        return torch.nn.functional.cross_entropy(logits, y)
    per_row = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    return (per_row * weight).sum() / weight.sum()


def independent_models(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n: int,
    seed: int,
    bootstrap: bool = True,
    epochs: int = 5,
    input_shape: tuple[int, ...] | None = None,
) -> list[Any]:
    """n models of the same recipe trained independently (seeds seed+1..seed+n, each on a
    bootstrap resample when asked): the innocent models a null agreement rate is measured on."""
    if n < 1:
        raise UsageError(f"need at least one independent model, got {n}")
    models = []
    for i in range(1, n + 1):
        rows = np.arange(len(x))
        if bootstrap:
            rows = np.random.default_rng(seed + i).integers(0, len(x), size=len(x))
        models.append(
            fit_like(model, x[rows], y[rows], seed=seed + i, epochs=epochs, input_shape=input_shape)
        )
    return models


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run a block with torch on one thread (networks this small only thrash on more), then
    restore the caller's setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
