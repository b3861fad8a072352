"""Safe loading: turn a reference (URL, `module:attr`, or model file) into a Target.

File formats are told apart by content, not extension. Anything that carries a pickle is
scanned first and refused unless the scan finds it safe or the user passes trust_model; the
bytes that were scanned are the bytes that get loaded, so the file cannot change in between.
"""

from __future__ import annotations

import importlib
import io
import re
from pathlib import Path
from typing import Any

from redwatch.exceptions import TargetError, UnsafeArtifactError, first_line
from redwatch.integrity.encryption import decrypt_for_load, is_encrypted
from redwatch.integrity.formats import Format, sniff
from redwatch.integrity.pickle_scan import PICKLE_FORMATS, PickleScanReport, scan_bytes
from redwatch.targets.base import Target
from redwatch.targets.detect import from_object

_IMPORT_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def load_target(
    ref: str,
    *,
    trust_model: bool = False,
    model_class: str | None = None,
    input_shape: tuple[int, ...] | None = None,
    http_options: dict[str, Any] | None = None,
    name: str | None = None,
    decryption_key: bytes | None = None,
) -> Target:
    """Load the model that `ref` names; TargetError (or a subclass) naming the problem.

    An encrypted model file (redwatch RWENC1) is decrypted in memory with decryption_key."""
    if ref.startswith(("http://", "https://")):
        from redwatch.targets.http_target import HttpTarget

        return HttpTarget(ref, name=name, **(http_options or {}))
    path = Path(ref)
    if path.is_file():
        return load_file(
            path,
            trust_model=trust_model,
            model_class=model_class,
            input_shape=input_shape,
            name=name,
            decryption_key=decryption_key,
        )
    if _IMPORT_REF.match(ref) and not path.exists():
        return from_object(import_object(ref), name=name or ref, input_shape=input_shape)
    raise TargetError(f"model file not found: {ref}")


def import_object(ref: str) -> Any:
    """The object named by `package.module:attr.sub`; TargetError when it cannot be found."""
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import module {module_name}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"{module_name} has no attribute {attr}")
        obj = getattr(obj, part)
    return obj


def load_file(
    path: Path,
    *,
    trust_model: bool = False,
    model_class: str | None = None,
    input_shape: tuple[int, ...] | None = None,
    name: str | None = None,
    decryption_key: bytes | None = None,
) -> Target:
    """Load a model file whose format is detected from its bytes."""
    data = path.read_bytes()
    if is_encrypted(data):  # plaintext stays in memory, then takes the normal path below
        data = decrypt_for_load(data, decryption_key, str(path))
    fmt = sniff(data)
    label = name or path.stem
    if fmt in PICKLE_FORMATS:
        report = scan_bytes(data, source=str(path))
        if not report.safe and not trust_model:
            raise UnsafeArtifactError(refusal_message(report))
    obj = _deserialize(data, fmt, path, trust_model=trust_model, model_class=model_class)
    return from_object(obj, name=label, input_shape=input_shape)


def refusal_message(report: PickleScanReport) -> str:
    """One line: which globals (or which problem) made the scan refuse the file."""
    bad = report.offending
    if bad:
        names = ", ".join(dict.fromkeys(g.qualified for g in bad))
        where = f"{bad[0].opcode} at offset {bad[0].offset}"
        detail = f"it imports {names} ({where})"
    else:
        detail = report.issues[0] if report.issues else "; ".join(report.fickling_issues[:1])
    return (
        f"refusing to load {report.source}: {report.verdict.value} pickle, {detail}; "
        "pass --trust-model to load it anyway"
    )


def _deserialize(
    data: bytes, fmt: Format, path: Path, *, trust_model: bool, model_class: str | None
) -> Any:
    if fmt is Format.PICKLE or fmt.compressed:
        return _joblib(data, path)
    if fmt is Format.TORCHSCRIPT:
        return _torchscript(data, path)
    if fmt is Format.TORCH_ZIP:
        return _torch_zip(data, path, model_class=model_class)
    if fmt is Format.ONNX:
        from redwatch.targets.onnx_target import OnnxTarget

        target = OnnxTarget(data, name=path.stem)
        target.session()
        return target
    if fmt in (Format.XGBOOST_JSON, Format.XGBOOST_UBJ):
        return _xgboost(data, path)
    if fmt is Format.LIGHTGBM_TEXT:
        return _lightgbm(data, path)
    raise TargetError(f"unsupported model format: {path} (detected {fmt.value})")


def _joblib(data: bytes, path: Path) -> Any:
    import joblib

    try:
        return joblib.load(io.BytesIO(data))
    except Exception as exc:  # unpickling raises anything the pickled classes raise
        raise TargetError(f"cannot load {path}: {type(exc).__name__}: {exc}") from None


def _torchscript(data: bytes, path: Path) -> Any:
    torch = _torch(path)
    try:
        return torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:
        raise TargetError(f"cannot load TorchScript {path}: {first_line(exc, 200)}") from None


def _torch_zip(data: bytes, path: Path, *, model_class: str | None) -> Any:
    torch = _torch(path)
    if model_class is None:
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
        except Exception as exc:
            raise TargetError(f"cannot load PyTorch file {path}: {first_line(exc, 200)}") from None
        if isinstance(obj, dict):
            raise TargetError(
                f"{path} is a PyTorch state dict; pass --model-class package.module:Class"
            )
        return obj
    cls = import_object(model_class)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model = cls()
        model.load_state_dict(state)
    except Exception as exc:
        raise TargetError(
            f"cannot load state dict {path} into {model_class}: {first_line(exc, 200)}"
        ) from None
    return model


def _xgboost(data: bytes, path: Path) -> Any:
    import xgboost

    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgboost.core.XGBoostError as exc:
        raise TargetError(f"cannot load XGBoost model {path}: {first_line(exc, 200)}") from None
    return booster


def _lightgbm(data: bytes, path: Path) -> Any:
    import lightgbm

    try:
        return lightgbm.Booster(model_str=data.decode("utf-8"))
    except Exception as exc:
        raise TargetError(f"cannot load LightGBM model {path}: {first_line(exc, 200)}") from None


def _torch(path: Path) -> Any:
    try:
        import torch
    except ImportError:
        raise TargetError(f"{path} is a PyTorch file; install redwatch[torch]") from None
    return torch
