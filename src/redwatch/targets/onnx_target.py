"""Adapter for ONNX classifiers through onnxruntime.

Handles what skl2onnx writes (a label output plus probabilities, either a ZipMap sequence of
maps or a plain tensor) and what deep-learning exporters write (one logits or probability
tensor). Logits are recognised by their values and turned into probabilities by softmax.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.exceptions import TargetError, UsageError
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities

_OUTPUTS = ("auto", "logits", "probabilities")


class OnnxTarget(Target):
    """An ONNX model file, bytes, or an onnxruntime.InferenceSession."""

    def __init__(
        self, path_or_bytes: str | Path | bytes | Any, name: str = "onnx", outputs: str = "auto"
    ) -> None:
        if outputs not in _OUTPUTS:
            raise UsageError(f"outputs must be one of {', '.join(_OUTPUTS)}, not {outputs!r}")
        self.source = path_or_bytes
        self.name = name
        self.outputs = outputs
        self._sess: Any = None
        self.capabilities = Capabilities(labels=True, scores=True)

    # -- session --------------------------------------------------------------------------
    def session(self) -> Any:
        """The onnxruntime session, created on first use; TargetError if it cannot load."""
        if self._sess is None:
            self._sess = self._open()
            self._describe()
        return self._sess

    def _open(self) -> Any:
        import onnxruntime as ort

        if isinstance(self.source, ort.InferenceSession):
            return self.source
        source = self.source
        if isinstance(source, Path):
            source = str(source)
        if isinstance(source, str) and not Path(source).is_file():
            raise TargetError(f"model file not found: {source}")
        try:
            return ort.InferenceSession(source, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            first = str(exc).splitlines()[0][:200]
            raise TargetError(f"cannot load ONNX model {self.name}: {first}") from None

    def _describe(self) -> None:
        sess = self._sess
        self._input = sess.get_inputs()[0]
        outs = sess.get_outputs()
        self._score_index = _score_output(outs)
        if self._score_index is None:
            raise TargetError(f"ONNX model {self.name} has no score output (tensor or ZipMap)")
        shape = outs[self._score_index].shape
        k = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
        self.classes = _class_labels(self.source)
        if k is None and self.classes is not None:
            k = len(self.classes)
        self.capabilities = replace(self.capabilities, n_classes=k)

    # -- queries --------------------------------------------------------------------------
    def _feed(self, x: np.ndarray) -> dict[str, np.ndarray]:
        inp = self._input
        dtype = np.float64 if "double" in inp.type else np.float32
        arr = x.astype(dtype)
        dims = inp.shape
        if len(dims) > 2 and all(isinstance(d, int) for d in dims[1:]):
            arr = arr.reshape(len(x), *dims[1:])
        return {inp.name: arr}

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        sess = self.session()
        try:
            raw = sess.run(None, self._feed(x))[self._score_index]
        except Exception as exc:
            first = str(exc).splitlines()[0][:200]
            raise TargetError(f"ONNX model {self.name} failed on the input: {first}") from None
        scores = self._scores(raw)
        self._check_classes(scores.shape[1])
        return scores

    def _scores(self, raw: Any) -> np.ndarray:
        if isinstance(raw, list):  # ZipMap: one {label: probability} dict per row
            keys = list(raw[0].keys()) if raw else []
            if self.classes is None:
                self.classes = np.asarray(keys)
            return np.array([[row[k] for k in keys] for row in raw], dtype=np.float64)
        arr = np.asarray(raw, dtype=np.float64)
        if arr.ndim == 1:
            arr = np.column_stack([1.0 - arr, arr])
        arr = arr.reshape(len(arr), -1)
        if self.outputs == "logits" or (self.outputs == "auto" and not _is_probability(arr)):
            arr = np.exp(arr - arr.max(axis=1, keepdims=True))
            arr /= arr.sum(axis=1, keepdims=True)
        return arr

    def _check_classes(self, k: int) -> None:
        if self.capabilities.n_classes is None:
            self.capabilities = replace(self.capabilities, n_classes=k)
        elif self.capabilities.n_classes != k:
            raise TargetError(
                f"ONNX model {self.name} returned {k} scores, expected "
                f"{self.capabilities.n_classes}"
            )


def _score_output(outputs: list[Any]) -> int | None:
    """Index of the probability/logit output: a ZipMap sequence or a float tensor."""
    for i, out in enumerate(outputs):
        if out.type.startswith("seq(map("):
            return i
    for i, out in enumerate(outputs):
        if out.type in ("tensor(float)", "tensor(double)", "tensor(float16)"):
            return i
    return None


def _is_probability(arr: np.ndarray) -> bool:
    return bool(
        np.all(arr >= -1e-6)
        and np.all(arr <= 1 + 1e-6)
        and np.allclose(arr.sum(axis=1), 1, atol=1e-3)
    )


def _class_labels(source: Any) -> np.ndarray | None:
    """Class labels that skl2onnx stores as node attributes (classlabels_*), if readable."""
    if not isinstance(source, str | Path | bytes):
        return None
    try:
        import onnx
    except ImportError:
        return None
    try:
        model = (
            onnx.load_model_from_string(source)
            if isinstance(source, bytes)
            else onnx.load(str(source))
        )
    except Exception:
        return None
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
                return np.asarray(list(attr.ints))
            if attr.name == "classlabels_strings" and attr.strings:
                return np.asarray([s.decode() for s in attr.strings])
    return None
