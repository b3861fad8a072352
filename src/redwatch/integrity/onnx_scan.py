"""ONNX: external-data paths that leave the model folder (a runtime would read any file the
path names) and operators from custom domains (they run native code from a plugin library).
The protobuf is parsed without loading external data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from redwatch.integrity.artifact_report import ScanItem
from redwatch.integrity.pickle_policy import Verdict

KNOWN_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.microsoft.mlfeaturizers",
        "org.pytorch.aten",
        "com.ms.internal.nhwc",
    }
)


def scan_onnx(data: bytes) -> list[ScanItem]:
    """Escaping external-data locations (unsafe) and unknown operator domains (suspicious)."""
    import onnx

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # protobuf raises DecodeError and friends
        return [ScanItem("onnx-parse", Verdict.SUSPICIOUS, f"cannot parse ONNX protobuf: {exc}")]
    items = [_external(t) for t in _tensors(model.graph)]
    items += [_domain(d, where) for d, where in _domains(model)]
    return [i for i in items if i is not None]


def _tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    yield from (s.values for s in graph.sparse_initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for sub in attr.graphs:
                yield from _tensors(sub)


def _external(tensor: Any) -> ScanItem | None:
    for entry in tensor.external_data:
        if entry.key == "location" and escapes(entry.value):
            return ScanItem(
                "onnx-external-data",
                Verdict.UNSAFE,
                f"tensor {tensor.name!r} reads external data from {entry.value!r}, "
                "outside the model folder",
                location=tensor.name,
                symbol=entry.value,
            )
    return None


def escapes(location: str) -> bool:
    """True when a relative-path claim would leave its folder (absolute, drive, or '..')."""
    if not location or "\x00" in location:
        return True
    for flavour in (PurePosixPath, PureWindowsPath):
        path = flavour(location)
        if path.is_absolute() or path.drive or path.root:
            return True
        if ".." in path.parts:
            return True
    return False


def _domains(model: Any) -> Iterator[tuple[str, str]]:
    local = {f.domain for f in model.functions}
    for opset in model.opset_import:
        if opset.domain not in KNOWN_DOMAINS and opset.domain not in local:
            yield opset.domain, "opset_import"
    for node in _nodes(model.graph):
        if node.domain not in KNOWN_DOMAINS and node.domain not in local:
            yield node.domain, f"node {node.name or node.op_type!r} ({node.op_type})"


def _nodes(graph: Any) -> Iterator[Any]:
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _nodes(attr.g)
            for sub in attr.graphs:
                yield from _nodes(sub)


def _domain(domain: str, where: str) -> ScanItem:
    return ScanItem(
        "onnx-custom-domain",
        Verdict.SUSPICIOUS,
        f"operator domain {domain!r} ({where}) needs a custom-op library",
        location=where,
        symbol=domain,
    )
