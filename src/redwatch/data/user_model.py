"""The user's model for `redwatch data scan --model`: loaded through the safe loader (pickles
are scanned before anything is unpickled) and reduced to the trainable object behind it, which
the label-error detector retrains per fold and whose penultimate layer the backdoor detector
reads (PyTorch modules only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redwatch.exceptions import UsageError


@dataclass(frozen=True)
class UserModel:
    """The raw estimator or module, its class name, and whether it is a PyTorch module."""

    raw: Any
    name: str
    is_torch: bool


def load_user_model(
    ref: str,
    *,
    trust_model: bool = False,
    model_class: str | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> UserModel:
    """Load MODEL (file or `pkg.module:attr`); UsageError when it cannot be retrained."""
    from redwatch.ip.recipe import is_torch_module, raw_model
    from redwatch.targets.loading import load_target

    target = load_target(
        ref, trust_model=trust_model, model_class=model_class, input_shape=input_shape, name=ref
    )
    try:
        raw = raw_model(target)
    except UsageError:
        raise UsageError(
            f"--model {ref}: a {target.kind} model cannot be retrained per fold; give a "
            "scikit-learn-API estimator or a PyTorch module"
        ) from None
    if type(raw).__name__ in ("RecursiveScriptModule", "ScriptModule"):
        raise UsageError(
            f"--model {ref}: a TorchScript model cannot be retrained; save the module itself "
            "or its state dict (with --model-class)"
        )
    return UserModel(raw, type(raw).__name__, is_torch_module(raw))
