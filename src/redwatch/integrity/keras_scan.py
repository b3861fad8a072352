"""Keras: a Lambda layer stores marshalled Python bytecode that runs when the model loads;
custom objects name classes outside Keras. Only the JSON configuration is read (h5py
attributes of an .h5 file, `config.json` of a .keras zip); Keras itself is never imported."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from redwatch.integrity.artifact_report import ScanItem
from redwatch.integrity.pickle_policy import Verdict

_CODE_CLASSES = frozenset({"Lambda", "__lambda__"})
_CONFIG_ATTRS = ("model_config", "training_config")
_KERAS_MODULE_PREFIXES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")


def scan_keras_h5(data: bytes) -> list[ScanItem]:
    """Check the JSON configs stored as root attributes of a Keras HDF5 file."""
    import h5py

    try:
        with h5py.File(io.BytesIO(data), "r") as handle:
            texts = [(a, handle.attrs[a]) for a in _CONFIG_ATTRS if a in handle.attrs]
    except Exception as exc:  # h5py raises OSError/ValueError/KeyError on damaged files
        return [ScanItem("hdf5-parse", Verdict.SUSPICIOUS, f"cannot read HDF5 file: {exc}")]
    items: list[ScanItem] = []
    for attr, raw in texts:
        items += scan_config_text(raw, attr)
    return items


def scan_keras_zip(data: bytes) -> list[ScanItem]:
    """Check `config.json` of a Keras v3 (.keras) archive."""
    try:
        raw = zipfile.ZipFile(io.BytesIO(data)).read("config.json")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        return [ScanItem("keras-parse", Verdict.SUSPICIOUS, f"cannot read config.json: {exc}")]
    return scan_config_text(raw, "config.json")


def scan_config_text(raw: object, where: str) -> list[ScanItem]:
    """Lambda layers (unsafe) and custom, non-Keras classes (suspicious) in a config."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    try:
        config = json.loads(text)
    except ValueError:
        return [ScanItem("keras-config", Verdict.SUSPICIOUS, f"{where} is not valid JSON")]
    items: list[ScanItem] = []
    for node, path in _class_nodes(config, where):
        item = _classify(node, path)
        if item is not None:
            items.append(item)
    return items


def _class_nodes(value: Any, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(value, dict):
        if isinstance(value.get("class_name"), str):
            yield value, path
        for key, child in value.items():
            yield from _class_nodes(child, f"{path}/{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _class_nodes(child, f"{path}/{i}")


def _classify(node: dict[str, Any], path: str) -> ScanItem | None:
    cls = str(node["class_name"])
    name = _layer_name(node)
    if cls in _CODE_CLASSES:
        return ScanItem(
            "keras-lambda",
            Verdict.UNSAFE,
            f"{cls} {name!r} carries Python code that runs when the model is loaded",
            location=path,
            symbol=cls,
        )
    module = node.get("module")
    registered = str(node.get("registered_name") or "")
    custom = (isinstance(module, str) and not module.startswith(_KERAS_MODULE_PREFIXES)) or (
        ">" in registered
    )
    if custom:
        return ScanItem(
            "keras-custom-object",
            Verdict.SUSPICIOUS,
            f"custom object {registered or cls!r} from module {module!r} needs user code",
            location=path,
            symbol=f"{module}.{cls}" if module else cls,
        )
    return None


def _layer_name(node: dict[str, Any]) -> str:
    config = node.get("config")
    return str(config.get("name", "")) if isinstance(config, dict) else ""
