"""Encryption at rest for model files: AES-256-GCM in authenticated 1 MiB chunks.

File format RWENC1 (all integers big-endian):

    magic       7  b"RWENC1\\0"
    scheme      1  1 = AES-256-GCM, per-file key from HKDF-SHA256(master key, salt)
    key id      8  HKDF-derived fingerprint of the master key (tells "wrong key" apart)
    salt       16  random per file; makes the per-file key unique, so nonces never repeat
    nonce      12  random per file; chunk i uses nonce XOR i
    chunk size  4  plaintext bytes per chunk (the last chunk may be shorter or empty)
    size        8  plaintext size
    name len    2  then the original base name, UTF-8
    chunks         ciphertext of each chunk followed by its 16-byte GCM tag

Every chunk authenticates the whole header plus its own index and a final-chunk flag, so
a flipped byte anywhere, truncation, extension, reordering or a swapped header all fail
closed. Decryption to a file authenticates everything before it writes a single byte.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from redwatch.exceptions import RedwatchError, TargetError, UsageError

MAGIC = b"RWENC1\0"
SCHEME_AES256_GCM_HKDF = 1
KEY_BYTES = 32
TAG_BYTES = 16
DEFAULT_CHUNK_SIZE = 1 << 20
MIN_CHUNK_SIZE = 1 << 10
MAX_CHUNK_SIZE = 1 << 26
MAX_NAME_BYTES = 255

_FIXED = struct.Struct(">7sB8s16s12sIQH")
_CHUNK_AAD = struct.Struct(">QB")
_FILE_KEY_INFO = b"redwatch RWENC1 file key"
_KEY_ID_INFO = b"redwatch RWENC1 key id"
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class EncryptionError(RedwatchError):
    """Encrypting or decrypting a model file failed."""


class KeyMaterialError(EncryptionError, UsageError):
    """The key is missing, unreadable, or not 32 bytes."""


class DecryptionError(EncryptionError, TargetError):
    """An encrypted file cannot be opened: wrong key, tampering, truncation, bad format."""


@dataclass(frozen=True)
class EncryptedHeader:
    """The authenticated header of an RWENC1 file."""

    key_id: bytes
    salt: bytes
    nonce: bytes
    chunk_size: int
    size: int
    name: str

    @property
    def raw(self) -> bytes:
        """The serialized header; every chunk authenticates it as associated data."""
        name = self.name.encode("utf-8")
        fixed = _FIXED.pack(
            MAGIC,
            SCHEME_AES256_GCM_HKDF,
            self.key_id,
            self.salt,
            self.nonce,
            self.chunk_size,
            self.size,
            len(name),
        )
        return fixed + name

    @property
    def chunks(self) -> int:
        """Number of chunks; an empty file still has one (empty, final) chunk."""
        return max(1, -(-self.size // self.chunk_size))

    def chunk_length(self, index: int) -> int:
        """Plaintext length of chunk `index`."""
        return min(self.chunk_size, self.size - index * self.chunk_size)

    @property
    def file_length(self) -> int:
        """Length of the whole encrypted file this header announces."""
        return len(self.raw) + self.size + self.chunks * TAG_BYTES


# ---------------------------------------------------------------- keys


def generate_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (hex), safe to print and store in headers."""
    return _key_id(_check_key_length(key, "key")).hex()


def parse_key(material: bytes, source: str, *, allow_raw: bool = False) -> bytes:
    """32 key bytes from 64 hex digits, base64 of 32 bytes, or (files only) 32 raw bytes."""
    if allow_raw and len(material) == KEY_BYTES:
        return material
    text = material.strip()
    try:
        decoded = text.decode("ascii")
    except UnicodeDecodeError:
        decoded = ""
    if _HEX_KEY.match(decoded):
        return bytes.fromhex(decoded)
    padded = decoded.encode("ascii") + b"=" * (-len(decoded) % 4)
    for altchars in (b"+/", b"-_"):
        try:
            key = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(key) == KEY_BYTES:
            return key
    raise KeyMaterialError(
        f"{source} does not hold a 256-bit key (want 64 hex digits or base64 of 32 bytes); "
        "make one with `redwatch integrity genkey`"
    )


def read_key(key_env: str | None = None, key_file: Path | None = None) -> bytes | None:
    """The key named by --key-env VAR or --key-file FILE (at most one); None when neither."""
    if key_env and key_file:
        raise KeyMaterialError("pass either --key-env or --key-file, not both")
    if key_env:
        value = os.environ.get(key_env)
        if not value:
            raise KeyMaterialError(f"environment variable {key_env} is not set or empty")
        return parse_key(value.encode("utf-8", "surrogateescape"), f"${key_env}")
    if key_file is not None:
        try:
            material = key_file.read_bytes()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read key file {key_file}: {exc.strerror}") from None
        return parse_key(material, f"key file {key_file}", allow_raw=True)
    return None


def require_key(key_env: str | None = None, key_file: Path | None = None) -> bytes:
    """Like read_key, but a key must be given."""
    key = read_key(key_env, key_file)
    if key is None:
        raise KeyMaterialError("no key given: pass --key-env VAR or --key-file FILE")
    return key


def key_file_exposed(path: Path) -> bool:
    """True when group or others may read the key file (worth a warning)."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def write_key_file(path: Path, key: bytes) -> None:
    """Write a key as base64 text, mode 0600; refuses to overwrite an existing file."""
    text = base64.b64encode(_check_key_length(key, "key")) + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EncryptionError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise EncryptionError(f"cannot create key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(text)


# ---------------------------------------------------------------- in memory


def is_encrypted(data: bytes) -> bool:
    """True when the bytes start with the RWENC1 magic."""
    return data[: len(MAGIC)] == MAGIC


def encrypt_bytes(
    data: bytes, key: bytes, *, name: str = "", chunk_size: int = DEFAULT_CHUNK_SIZE
) -> bytes:
    """Encrypt a whole buffer into an RWENC1 blob."""
    import io

    header = _new_header(key, len(data), name, chunk_size)
    sealed = _seal(io.BytesIO(data), header, key, "<bytes>")
    return header.raw + b"".join(sealed)


def decrypt_bytes(data: bytes, key: bytes, *, source: str = "<bytes>") -> bytes:
    """Authenticate and decrypt an RWENC1 blob in memory; DecryptionError on any problem."""
    import io

    reader = io.BytesIO(data)
    header = _read_header(reader, source)
    _check_file(header, key, len(data), source)
    return b"".join(_open(reader, header, key, source))


def decrypt_for_load(data: bytes, key: bytes | None, source: str) -> bytes:
    """Plaintext of an encrypted model file for the loader, which never writes it to disk."""
    if key is None:
        raise DecryptionError(
            f"{source} is encrypted (redwatch RWENC1); pass --key-env VAR or --key-file FILE"
        )
    return decrypt_bytes(data, key, source=source)


# ---------------------------------------------------------------- files


def encrypt_file(
    src: Path,
    dst: Path,
    key: bytes,
    *,
    force: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> EncryptedHeader:
    """Stream-encrypt `src` into `dst` atomically; refuses to overwrite unless force."""
    _refuse_existing(dst, force)
    with _open_input(src) as reader:
        if is_encrypted(reader.read(len(MAGIC))):
            raise EncryptionError(f"{src} is already encrypted")
        reader.seek(0)
        size = os.fstat(reader.fileno()).st_size
        header = _new_header(key, size, src.name, chunk_size)
        _write_atomic(dst, _prefixed(header.raw, _seal(reader, header, key, str(src))), force)
    return header


def decrypt_file(src: Path, dst: Path, key: bytes, *, force: bool = False) -> EncryptedHeader:
    """Decrypt `src` into `dst` atomically, only after every chunk has authenticated."""
    _refuse_existing(dst, force)
    with _open_input(src) as reader:
        size = os.fstat(reader.fileno()).st_size
        header = _read_header(reader, str(src))
        _check_file(header, key, size, str(src))
        for _ in _open(reader, header, key, str(src)):
            pass  # first pass: authenticate everything, keep nothing
        reader.seek(0)
        if _read_header(reader, str(src)) != header:
            raise DecryptionError(f"{src} changed while it was being decrypted")
        _write_atomic(dst, _open(reader, header, key, str(src)), force)
    return header


def read_header(path: Path) -> EncryptedHeader:
    """The header of an encrypted file (not authenticated until a key opens it)."""
    with _open_input(path) as reader:
        return _read_header(reader, str(path))


# ---------------------------------------------------------------- internals


def _aead(key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise EncryptionError(
            "encryption needs the cryptography package: pip install 'redwatch[signing]'"
        ) from None
    return AESGCM(key)


def _hkdf(key: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    except ImportError:
        raise EncryptionError(
            "encryption needs the cryptography package: pip install 'redwatch[signing]'"
        ) from None
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def _key_id(key: bytes) -> bytes:
    return _hkdf(key, None, _KEY_ID_INFO, 8)


def _check_key_length(key: bytes, what: str) -> bytes:
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"{what} must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def _new_header(key: bytes, size: int, name: str, chunk_size: int) -> EncryptedHeader:
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise UsageError(f"chunk size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE} bytes")
    return EncryptedHeader(
        key_id=_key_id(_check_key_length(key, "key")),
        salt=os.urandom(16),
        nonce=os.urandom(12),
        chunk_size=chunk_size,
        size=size,
        name=_short_name(name),
    )


def _short_name(name: str) -> str:
    base = Path(name).name if name else ""
    while len(base.encode("utf-8")) > MAX_NAME_BYTES:
        base = base[:-1]
    return base


def _read_header(reader: IO[bytes], source: str) -> EncryptedHeader:
    fixed = reader.read(_FIXED.size)
    if fixed[: len(MAGIC)] != MAGIC:
        raise DecryptionError(f"{source} is not a redwatch encrypted file (bad magic header)")
    if len(fixed) < _FIXED.size:
        raise DecryptionError(f"{source} is truncated: its header is incomplete")
    _magic, scheme, kid, salt, nonce, chunk, size, name_len = _FIXED.unpack(fixed)
    if scheme != SCHEME_AES256_GCM_HKDF:
        raise DecryptionError(f"{source} uses unknown encryption scheme {scheme}")
    if not MIN_CHUNK_SIZE <= chunk <= MAX_CHUNK_SIZE or name_len > MAX_NAME_BYTES:
        raise DecryptionError(f"{source} has a corrupted header")
    raw_name = reader.read(name_len)
    if len(raw_name) < name_len:
        raise DecryptionError(f"{source} is truncated: its header is incomplete")
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError(f"{source} has a corrupted header") from None
    return EncryptedHeader(kid, salt, nonce, chunk, size, name)


def _check_file(header: EncryptedHeader, key: bytes, length: int, source: str) -> None:
    """Wrong key and wrong length are told apart before any decryption is tried."""
    mine = _key_id(_check_key_length(key, "key"))
    if mine != header.key_id:
        raise DecryptionError(
            f"wrong key for {source}: it was encrypted with key {header.key_id.hex()}, "
            f"the key given is {mine.hex()}"
        )
    if length != header.file_length:
        what = "truncated" if length < header.file_length else "longer than its header says"
        raise DecryptionError(
            f"{source} is {what} ({length} bytes, expected {header.file_length}); "
            "refusing to decrypt"
        )


def _chunk_params(header: EncryptedHeader, index: int) -> tuple[bytes, bytes]:
    """Nonce and associated data of chunk `index`."""
    base = int.from_bytes(header.nonce, "big")
    nonce = (base ^ index).to_bytes(12, "big")
    final = 1 if index == header.chunks - 1 else 0
    return nonce, header.raw + _CHUNK_AAD.pack(index, final)


def _file_aead(header: EncryptedHeader, key: bytes) -> Any:
    return _aead(_hkdf(key, header.salt, _FILE_KEY_INFO, KEY_BYTES))


def _seal(reader: IO[bytes], header: EncryptedHeader, key: bytes, source: str) -> Iterator[bytes]:
    aead = _file_aead(header, key)
    for index in range(header.chunks):
        want = header.chunk_length(index)
        plain = reader.read(want)
        if len(plain) != want:
            raise EncryptionError(f"{source} changed size while it was being encrypted")
        nonce, aad = _chunk_params(header, index)
        yield aead.encrypt(nonce, plain, aad)
    if reader.read(1):
        raise EncryptionError(f"{source} changed size while it was being encrypted")


def _open(reader: IO[bytes], header: EncryptedHeader, key: bytes, source: str) -> Iterator[bytes]:
    from cryptography.exceptions import InvalidTag

    aead = _file_aead(header, key)
    for index in range(header.chunks):
        want = header.chunk_length(index) + TAG_BYTES
        sealed = reader.read(want)
        if len(sealed) != want:
            raise DecryptionError(f"{source} is truncated at chunk {index}; refusing to decrypt")
        nonce, aad = _chunk_params(header, index)
        try:
            yield aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptionError(
                f"{source} failed authentication at chunk {index}: "
                "the file was modified or corrupted (or the header was tampered with)"
            ) from None
    if reader.read(1):
        raise DecryptionError(f"{source} has data after its final chunk; refusing to decrypt")


def _prefixed(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _open_input(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise EncryptionError(f"cannot read {path}: {exc.strerror}") from None


def _refuse_existing(dst: Path, force: bool) -> None:
    if dst.exists() and not force:
        raise EncryptionError(f"{dst} already exists; pass --force to overwrite it")


def _write_atomic(dst: Path, chunks: Iterable[bytes], force: bool) -> None:
    """Write to a 0600 temp file beside dst, fsync, then move it into place in one step."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    except OSError as exc:
        raise EncryptionError(f"cannot write {dst}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, dst, force)
    except OSError as exc:
        raise EncryptionError(f"cannot write {dst}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _publish(tmp: Path, dst: Path, force: bool) -> None:
    """Move tmp to dst; without force a hard link makes 'no overwrite' race-free."""
    if force:
        os.replace(tmp, dst)
        return
    try:
        os.link(tmp, dst)
    except FileExistsError:
        raise EncryptionError(f"{dst} already exists; pass --force to overwrite it") from None
    except OSError:  # no hard links on this file system
        _refuse_existing(dst, force)
        os.replace(tmp, dst)
