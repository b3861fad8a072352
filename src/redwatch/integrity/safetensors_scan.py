"""safetensors: no code, but a header that lies about offsets makes readers that trust it
read out of bounds or alias tensors. Checked: header length, JSON, dtype/shape vs byte
range, ranges inside the buffer, no overlaps, and no unaccounted bytes."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from redwatch.integrity.artifact_report import ScanItem
from redwatch.integrity.pickle_policy import Verdict

_MAX_HEADER = 100 * 1024 * 1024
_DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "U16": 16,
    "I16": 16,
    "F16": 16,
    "BF16": 16,
    "U32": 32,
    "I32": 32,
    "F32": 32,
    "U64": 64,
    "I64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


def _bad(message: str, verdict: Verdict = Verdict.UNSAFE) -> ScanItem:
    return ScanItem("safetensors-header", verdict, message)


def scan_safetensors(data: bytes) -> list[ScanItem]:
    """Problems with a safetensors file's header; empty when it is consistent."""
    if len(data) < 8:
        return [_bad("file is shorter than the 8-byte header length")]
    (length,) = struct.unpack("<Q", data[:8])
    if length > _MAX_HEADER or 8 + length > len(data):
        return [_bad(f"header length {length} runs past the end of the file ({len(data)} bytes)")]
    try:
        header = json.loads(data[8 : 8 + length])
    except (ValueError, UnicodeDecodeError):
        return [_bad("header is not valid JSON")]
    if not isinstance(header, dict):
        return [_bad("header is not a JSON object")]
    return _check_tensors(header, len(data) - 8 - length)


def _check_tensors(header: dict[str, Any], buffer: int) -> list[ScanItem]:
    items: list[ScanItem] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                items.append(_bad("__metadata__ must map strings to strings", Verdict.SUSPICIOUS))
            continue
        problem, span = _check_entry(name, entry, buffer)
        if problem:
            items.append(_bad(problem))
        elif span is not None:
            spans.append((*span, name))
    items.extend(_overlaps_and_gaps(spans, buffer))
    return items


def _check_entry(
    name: str, entry: object, buffer: int
) -> tuple[str | None, tuple[int, int] | None]:
    if not isinstance(entry, dict):
        return f"tensor {name!r} is not an object", None
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in _DTYPE_BITS:
        return f"tensor {name!r} has unknown dtype {dtype!r}", None
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return f"tensor {name!r} has an invalid shape", None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and o >= 0 for o in offsets)
    ):
        return f"tensor {name!r} has invalid data_offsets", None
    begin, end = offsets
    if begin > end or end > buffer:
        return f"tensor {name!r} data_offsets {offsets} fall outside the {buffer}-byte buffer", None
    expected = math.ceil(math.prod(shape) * _DTYPE_BITS[str(dtype)] / 8)
    if end - begin != expected:
        return (
            f"tensor {name!r} spans {end - begin} bytes but {dtype}{shape} needs {expected}",
            None,
        )
    return None, (begin, end)


def _overlaps_and_gaps(spans: list[tuple[int, int, str]], buffer: int) -> list[ScanItem]:
    items: list[ScanItem] = []
    cursor, previous = 0, ""
    for begin, end, name in sorted(spans):
        if begin < cursor:
            items.append(_bad(f"tensor {name!r} overlaps tensor {previous!r}"))
        elif begin > cursor:
            items.append(
                _bad(f"{begin - cursor} unaccounted bytes before {name!r}", Verdict.SUSPICIOUS)
            )
        if end >= cursor:
            cursor, previous = end, name
    if cursor < buffer and spans:
        items.append(
            _bad(f"{buffer - cursor} unaccounted bytes after the last tensor", Verdict.SUSPICIOUS)
        )
    return items
