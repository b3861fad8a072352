"""Training recipes: how to train a fresh model of a target's kind on data a probe controls.

Poisoning-susceptibility and membership-inference probes retrain the target's recipe many
times (on poisoned sets, on shadow splits). The default recipe is the target's own model,
cloned (scikit-learn API) or re-initialised (PyTorch) and fitted from scratch; a user's
function `pkg.module:train(x, y, seed) -> model` replaces it when the real training loop
matters (params key `train_recipe`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.exceptions import TargetError, UsageError
from redwatch.ip.recipe import fit_like, is_torch_module, predict_labels, raw_model
from redwatch.targets.base import Target

TrainFn = Callable[[np.ndarray, np.ndarray, int], Any]
DEFAULT_EPOCHS = 5


@dataclass(frozen=True)
class TrainRecipe:
    """A way to train a model from (x, y class indices, seed); `base` is the target's own
    model (the template of the default recipe), `function` a user's training function."""

    base: Any
    n_classes: int
    function: TrainFn | None = None
    input_shape: tuple[int, ...] | None = None
    epochs: int = DEFAULT_EPOCHS

    def describe(self) -> str:
        """One line for reports: which recipe was used."""
        if self.function is not None:
            return f"user training function {_qualname(self.function)}"
        kind = (
            "re-initialised PyTorch module" if is_torch_module(self.base) else "sklearn clone + fit"
        )
        return f"{kind} of {type(self.base).__name__}"

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int) -> Any:
        """A new model trained from scratch on (x, y)."""
        y = np.asarray(y, dtype=np.int64)
        if self.function is not None:
            model = self.function(np.asarray(x), y, seed)
            if model is None or not (hasattr(model, "predict") or is_torch_module(model)):
                raise UsageError(
                    f"training function {_qualname(self.function)} must return a fitted "
                    "model with predict() or a torch module"
                )
            return model
        return fit_like(
            self.base, x, y, seed=seed, epochs=self.epochs, input_shape=self.input_shape
        )

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Class indices 0..K-1 (no query metering: the model is the probe's own). A model
        fitted here learned class indices, so its labels are indices even when a class was
        missing from its training rows (classes_ positions would shift them)."""
        if hasattr(model, "predict"):
            return np.asarray(model.predict(np.asarray(x))).astype(np.int64)
        return np.asarray(predict_labels(model, x, self.input_shape), dtype=np.int64)

    def predict_proba(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Probabilities, shape (n, n_classes), columns in class-index order. A class the
        model never saw gets probability 0; a model without scores gets one-hot rows."""
        if hasattr(model, "predict_proba"):
            raw = np.asarray(model.predict_proba(x), dtype=np.float64)
            classes = getattr(model, "classes_", None)
            cols = np.arange(raw.shape[1]) if classes is None else np.asarray(classes, int)
            out = np.zeros((len(x), self.n_classes))
            out[:, cols] = raw
            return out
        if is_torch_module(model):
            return _torch_proba(model, x, self.input_shape)
        return np.eye(self.n_classes)[self.predict(model, x)]


def recipe_for(target: Target, params: Mapping[str, Any] | None = None) -> TrainRecipe:
    """The recipe for this target: params `train_recipe` ("pkg.mod:fn") when given, else
    the target's own model retrained from scratch (`epochs` for PyTorch, default 5).
    UsageError when the target has no trainable model and no function is given."""
    params = params or {}
    n_classes = _n_classes(target)
    shape = getattr(target, "input_shape", None)
    epochs = int(params.get("epochs", DEFAULT_EPOCHS))
    if epochs < 1:
        raise UsageError(f"epochs must be positive, got {epochs}")
    ref = params.get("train_recipe")
    function = load_train_fn(str(ref)) if ref else None
    base = None
    if function is None:
        base = raw_model(target)
        if type(base).__name__ in ("RecursiveScriptModule", "ScriptModule"):
            raise UsageError(
                "a TorchScript model cannot be re-initialised for retraining; give the "
                "training function as train_recipe: pkg.module:function"
            )
    return TrainRecipe(base, n_classes, function, shape, epochs)


def trainable(target: Target) -> bool:
    """True when the target carries a model that `recipe_for` can retrain by itself."""
    try:
        base = raw_model(target)
    except UsageError:
        return False
    return type(base).__name__ not in ("RecursiveScriptModule", "ScriptModule")


def load_train_fn(ref: str) -> TrainFn:
    """The callable named by "pkg.module:function"; UsageError when it cannot be found."""
    from redwatch.targets.loading import import_object

    if ":" not in ref:
        raise UsageError(f"train_recipe must look like pkg.module:function, got {ref!r}")
    try:
        fn = import_object(ref)
    except TargetError as exc:
        raise UsageError(f"train_recipe {ref}: {exc}") from None
    if not callable(fn):
        raise UsageError(f"train_recipe {ref} is not callable")
    return fn  # type: ignore[no-any-return]


def _n_classes(target: Target) -> int:
    """The class count the target declares (needed to line up probability columns); a
    torch target learns it from one forward pass."""
    k = target.capabilities.n_classes
    ensure = getattr(target, "ensure_n_classes", None)
    if k is None and callable(ensure):
        k = int(ensure())
    if k is None:
        raise UsageError(f"cannot retrain {target.name}: its number of classes is unknown")
    return int(k)


def _torch_proba(model: Any, x: np.ndarray, shape: tuple[int, ...] | None) -> np.ndarray:
    """Softmax of a torch module's logits, in eval mode, without gradients."""
    import torch

    t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if shape:
        t = t.reshape(len(t), *shape)
    model.eval()
    with torch.no_grad():
        return np.asarray(torch.softmax(model(t), dim=1).numpy(), dtype=np.float64)


def _qualname(fn: Callable[..., Any]) -> str:
    """module:name of a function, for messages."""
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
