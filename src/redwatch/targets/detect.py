"""Capability detection: wrap an in-process model object in the right Target adapter.

Dispatch is by type, checked without importing optional frameworks that the object could not
come from (a torch model implies torch is already imported).
"""

from __future__ import annotations

import sys
from typing import Any

from redwatch.exceptions import TargetError
from redwatch.targets.base import Target


def from_object(
    obj: Any, *, name: str | None = None, input_shape: tuple[int, ...] | None = None
) -> Target:
    """The Target for a model object; TargetError for anything that is not a supported model."""
    if isinstance(obj, Target):
        return obj
    kind = _kind(obj)
    label = name or kind or "model"
    if kind == "xgboost-booster":
        from redwatch.targets.boosting_target import XGBoostBoosterTarget

        return XGBoostBoosterTarget(obj, name=label)
    if kind == "lightgbm-booster":
        from redwatch.targets.boosting_target import LightGBMBoosterTarget

        return LightGBMBoosterTarget(obj, name=label)
    if kind == "onnx":
        from redwatch.targets.onnx_target import OnnxTarget

        target = OnnxTarget(obj, name=label)
        target.session()
        return target
    if kind == "torch":
        from redwatch.targets.torch_target import TorchTarget

        return TorchTarget(obj, input_shape=input_shape, name=label)
    if kind == "sklearn":
        from redwatch.targets.sklearn_target import SklearnTarget

        _require_fitted(obj)
        return SklearnTarget(obj, name=label)
    raise TargetError(f"object of type {_type_name(obj)} is not a supported model")


def _type_name(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _kind(obj: Any) -> str | None:
    module = type(obj).__module__.split(".")[0]
    cls = type(obj).__name__
    if module == "xgboost" and cls == "Booster":
        return "xgboost-booster"
    if module == "lightgbm" and cls == "Booster":
        return "lightgbm-booster"
    if module == "onnxruntime" and cls == "InferenceSession":
        return "onnx"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module | torch.jit.ScriptModule):
        return "torch"
    if _is_classifier(obj):
        return "sklearn"
    return None


def _is_classifier(obj: Any) -> bool:
    """scikit-learn API classifier: predict plus fitted classes_ or predict_proba."""
    if isinstance(obj, type) or not callable(getattr(obj, "predict", None)):
        return False
    return hasattr(obj, "classes_") or hasattr(obj, "predict_proba")


def _require_fitted(obj: Any) -> None:
    if not hasattr(obj, "get_params"):
        return
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except NotFittedError:
        raise TargetError(f"model of type {_type_name(obj)} is not fitted") from None
    except TypeError:
        return
