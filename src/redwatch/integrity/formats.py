"""Model file formats told apart by content (magic bytes, zip members), never by extension,
and the unpacking of the compressed and zipped containers that carry pickles."""

from __future__ import annotations

import bz2
import io
import json
import lzma
import pickletools
import zipfile
import zlib
from collections.abc import Callable
from enum import StrEnum

from redwatch.exceptions import TargetError

DEFAULT_MAX_BYTES = 8 * 1024**3


class Format(StrEnum):
    """Model file formats redwatch recognises."""

    PICKLE = "pickle"
    ZLIB = "joblib-zlib"
    GZIP = "joblib-gzip"
    BZ2 = "joblib-bz2"
    XZ = "joblib-xz"
    LZMA = "joblib-lzma"
    LZ4 = "joblib-lz4"
    JOBLIB_COMPAT = "joblib-compat"
    TORCH_ZIP = "torch-zip"
    TORCHSCRIPT = "torchscript"
    ZIP = "zip"
    ONNX = "onnx"
    XGBOOST_JSON = "xgboost-json"
    XGBOOST_UBJ = "xgboost-ubj"
    LIGHTGBM_TEXT = "lightgbm-text"
    SAFETENSORS = "safetensors"
    NUMPY = "npy"
    TORCH_LEGACY = "torch-legacy"
    HDF5 = "hdf5"
    KERAS = "keras"
    TAR = "tar"
    UNKNOWN = "unknown"

    @property
    def compressed(self) -> bool:
        """True for the joblib compression wrappers around a pickle."""
        return self in _DECOMPRESSORS or self is Format.LZ4


_PROTO0_STARTS = frozenset(b"(c]})NIVSFLKJMGUTi")
# torch.save's legacy (pre-zip) format opens with a pickled magic number, 0x1950a86a20f9469cfc6c.
_TORCH_LEGACY_MAGIC = b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def sniff(data: bytes) -> Format:
    """Guess the format of a model file from its bytes."""
    head = data[:16]
    for magic, fmt in _MAGICS:
        if head.startswith(magic):
            return _zip_kind(data) if fmt is Format.ZIP else fmt
    if head[:1] == b"\x78" and len(head) > 1 and (head[0] * 256 + head[1]) % 31 == 0:
        return Format.ZLIB
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return Format.TORCH_LEGACY if data[2:15] == _TORCH_LEGACY_MAGIC else Format.PICKLE
    if any(data[o : o + 8] == _HDF5_MAGIC for o in (0, 512, 1024, 2048)):
        return Format.HDF5
    if data[257:262] == b"ustar":
        return Format.TAR
    if head.startswith(b"tree\n") or head.startswith(b"tree\r\n"):
        return Format.LIGHTGBM_TEXT
    text_kind = _text_or_ubj(data)
    if text_kind is not None:
        return text_kind
    if head[:1] == b"\x08" and _looks_like_onnx(data):
        return Format.ONNX
    if head[:1] and head[0] in _PROTO0_STARTS and _parses_as_pickle(data):
        return Format.PICKLE
    return Format.UNKNOWN


_MAGICS: tuple[tuple[bytes, Format], ...] = (
    (b"PK\x03\x04", Format.ZIP),
    (b"PK\x05\x06", Format.ZIP),
    (b"\x1f\x8b", Format.GZIP),
    (b"BZh", Format.BZ2),
    (b"\xfd7zXZ\x00", Format.XZ),
    (b"]\x00\x00", Format.LZMA),
    (b"\x04\x22\x4d\x18", Format.LZ4),
    (b"ZF", Format.JOBLIB_COMPAT),
    (b"\x93NUMPY", Format.NUMPY),
)


def _zip_kind(data: bytes) -> Format:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return Format.UNKNOWN
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        return Format.TORCHSCRIPT
    if any(n.endswith("data.pkl") for n in names):
        return Format.TORCH_ZIP
    if "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names):
        return Format.KERAS
    return Format.ZIP


def _text_or_ubj(data: bytes) -> Format | None:
    stripped = data[:4096].lstrip()
    if stripped[:1] == b"{":
        if b"learner" not in stripped:
            return None
        try:
            json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return Format.XGBOOST_UBJ
        return Format.XGBOOST_JSON
    if len(data) > 8 and data[8:10] == b'{"':
        return Format.SAFETENSORS
    return None


def _looks_like_onnx(data: bytes) -> bool:
    """ModelProto starts with ir_version (field 1, varint); a graph (field 7) must follow."""
    i = 1
    while i < len(data) and data[i] & 0x80:
        i += 1
    return i + 1 < len(data) and data[i + 1] in (0x12, 0x1A, 0x22, 0x2A, 0x3A, 0x42)


def _parses_as_pickle(data: bytes) -> bool:
    try:
        for op, _arg, _pos in pickletools.genops(data[: 1 << 20]):
            if op.name == "STOP":
                return True
    except Exception:
        return False
    return False


def _stream(factory: Callable[[], object]) -> Callable[[bytes, int], bytes]:
    def run(data: bytes, max_bytes: int) -> bytes:
        decomp = factory()
        out = decomp.decompress(data, max_bytes + 1)  # type: ignore[attr-defined]
        if len(out) > max_bytes:
            raise TargetError(f"decompressed size exceeds {max_bytes} bytes")
        return bytes(out)

    return run


def _zlib(data: bytes, max_bytes: int) -> bytes:
    decomp = zlib.decompressobj()
    out = decomp.decompress(data, max_bytes + 1)
    if len(out) > max_bytes:
        raise TargetError(f"decompressed size exceeds {max_bytes} bytes")
    return out


def _gzip(data: bytes, max_bytes: int) -> bytes:
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = decomp.decompress(data, max_bytes + 1)
    if len(out) > max_bytes:
        raise TargetError(f"decompressed size exceeds {max_bytes} bytes")
    return out


_DECOMPRESSORS: dict[Format, Callable[[bytes, int], bytes]] = {
    Format.ZLIB: _zlib,
    Format.GZIP: _gzip,
    Format.BZ2: _stream(bz2.BZ2Decompressor),
    Format.XZ: _stream(lzma.LZMADecompressor),
    Format.LZMA: _stream(lzma.LZMADecompressor),
}


def decompress(data: bytes, fmt: Format, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Undo a joblib compression wrapper; TargetError if it cannot be done safely."""
    if fmt is Format.LZ4:
        return _lz4(data, max_bytes)
    try:
        return _DECOMPRESSORS[fmt](data, max_bytes)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise TargetError(f"cannot decompress {fmt.value} data: {exc}") from None


def _lz4(data: bytes, max_bytes: int) -> bytes:
    try:
        import lz4.frame  # optional; joblib only writes lz4 when it is installed
    except ImportError:
        raise TargetError("cannot decompress lz4 data: the lz4 package is not installed") from None
    out: bytes = lz4.frame.decompress(data)
    if len(out) > max_bytes:
        raise TargetError(f"decompressed size exceeds {max_bytes} bytes")
    return out


def zip_pickles(data: bytes) -> list[tuple[str, bytes]]:
    """The pickle members (*.pkl, *.debug_pkl) of a zip archive, by name."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        return [
            (n, archive.read(n))
            for n in archive.namelist()
            if n.endswith((".pkl", ".debug_pkl")) and not n.endswith("/")
        ]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TargetError(f"cannot read zip archive: {exc}") from None
