"""EC key pairs for model signing: generate them, and check a PEM key before it is used.

model-signing accepts elliptic-curve keys on P-256, P-384 and P-521 as unencrypted-or-not PEM;
checking the file here first turns its low-level failures into one-line messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redwatch.exceptions import UsageError

PRIVATE_NAME = "private.pem"
PUBLIC_NAME = "public.pem"
SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")


@dataclass(frozen=True)
class KeyPair:
    """Where a freshly generated key pair was written."""

    private: Path
    public: Path


def generate_keypair(out_dir: Path) -> KeyPair:
    """Write a new EC P-256 key pair as PEM into out_dir; never overwrite an existing key."""
    ec, serialization = _crypto()
    pair = KeyPair(out_dir / PRIVATE_NAME, out_dir / PUBLIC_NAME)
    for path in (pair.private, pair.public):
        if path.exists() or path.is_symlink():
            raise UsageError(f"refusing to overwrite existing key file {path}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create key folder {out_dir}: {exc.strerror}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(pair.private, private_pem, 0o600)
    _write_new(pair.public, public_pem, 0o644)
    return pair


def check_private_key(path: Path) -> None:
    """Raise UsageError unless path is a readable, unencrypted EC private key on a known curve."""
    ec, serialization = _crypto()
    data = _read_key(path, "private")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise UsageError(f"private key {path} is password-protected; not supported") from None
    except ValueError:
        raise UsageError(f"{path} is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UsageError(f"private key {path} is not an elliptic-curve key")
    _check_curve(path, key.curve.name)


def check_public_key(path: Path) -> None:
    """Raise UsageError unless path is a readable EC public key (PEM) on a known curve."""
    ec, serialization = _crypto()
    data = _read_key(path, "public")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        hint = " (it looks like a private key)" if b"PRIVATE KEY" in data else ""
        raise UsageError(f"{path} is not a PEM public key{hint}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UsageError(f"public key {path} is not an elliptic-curve key")
    _check_curve(path, key.curve.name)


def _check_curve(path: Path, curve: str) -> None:
    if curve not in SUPPORTED_CURVES:
        raise UsageError(f"key {path} uses curve {curve}; use one of {', '.join(SUPPORTED_CURVES)}")


def _read_key(path: Path, kind: str) -> bytes:
    if not path.is_file():
        raise UsageError(f"{kind} key not found: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {kind} key {path}: {exc.strerror}") from None


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create path exclusively with the given permissions (umask cannot widen them)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise UsageError(f"refusing to overwrite existing key file {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot write key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)


def _crypto() -> tuple[Any, Any]:
    """The cryptography modules this file needs; a clean error when the extra is missing."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        raise UsageError(
            "model signing needs the 'signing' extra: pip install 'redwatch[signing]'"
        ) from None
    return ec, serialization
