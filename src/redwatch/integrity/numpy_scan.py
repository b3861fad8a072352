"""NumPy `.npy` files: an object-dtype array is stored as a pickle right after the header.

`np.load(..., allow_pickle=True)` unpickles that payload, so it gets the full pickle scan;
numeric arrays carry no code. The header is a Python dict literal, read with
`ast.literal_eval` (literals only, never evaluated as code).
"""

from __future__ import annotations

import ast
import struct

from redwatch.exceptions import TargetError

_MAGIC = b"\x93NUMPY"
_HEADER_LEN = {1: ("<H", 2), 2: ("<I", 4), 3: ("<I", 4)}
_MAX_HEADER = 1 << 20


def npy_header(data: bytes) -> tuple[dict[str, object], int]:
    """The header dict and the offset where array data starts; TargetError if malformed."""
    if not data.startswith(_MAGIC) or len(data) < 10:
        raise TargetError("not a NumPy .npy file (bad magic)")
    major = data[6]
    if major not in _HEADER_LEN:
        raise TargetError(f"unsupported .npy format version {major}")
    fmt, width = _HEADER_LEN[major]
    (length,) = struct.unpack(fmt, data[8 : 8 + width])
    start = 8 + width
    if length > _MAX_HEADER or start + length > len(data):
        raise TargetError(f".npy header length {length} runs past the end of the file")
    text = data[start : start + length].decode("latin-1" if major < 3 else "utf-8", "replace")
    try:
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise TargetError(".npy header is not a Python literal") from None
    if not isinstance(header, dict) or "descr" not in header:
        raise TargetError(".npy header has no 'descr' entry")
    return header, start + length


def has_object_dtype(descr: object) -> bool:
    """True when a dtype description (string or structured list) contains Python objects."""
    if isinstance(descr, str):
        return descr.lstrip("|<>=").startswith("O")
    if isinstance(descr, list):  # structured: [(name, dtype[, shape]), ...]
        return any(
            has_object_dtype(f[1]) if isinstance(f, tuple) and len(f) > 1 else True for f in descr
        )
    return False


def npy_pickle_payload(data: bytes) -> bytes | None:
    """The pickle bytes of an object-dtype `.npy` file, None for a plain numeric array."""
    header, offset = npy_header(data)
    if not has_object_dtype(header["descr"]):
        return None
    return data[offset:]
