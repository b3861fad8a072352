"""The owner's secret: read it, generate it, and derive from it what IP protection needs —
an Ed25519 signing key (commitments and certificates) and keyed random streams (triggers).

One secret does both so that whoever can regenerate the triggers is also the one who signed
the commitment; the secret itself never appears in any file redwatch writes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from redwatch.exceptions import UsageError

MIN_KEY_BYTES = 16
_SIGNING_INFO = b"redwatch.ip/ed25519/v1"
_RNG_DOMAIN = "redwatch.ip/rng/v1|"


def read_key(spec: str) -> bytes:
    """The secret named by `spec`: `env:NAME` (the variable's text) or a key file path (its
    text, surrounding whitespace stripped), as UTF-8 bytes — the same bytes the guard's
    watermark stage reads from its environment variable."""
    text = _key_text(spec)
    key = text.strip().encode("utf-8")
    if not key:
        raise UsageError(f"the key from {spec} is empty")
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(
            f"the key from {spec} is {len(key)} bytes; use at least {MIN_KEY_BYTES} "
            "(redwatch ip keygen writes one)"
        )
    return key


def _key_text(spec: str) -> str:
    """The raw text behind a key spec; UsageError naming what is missing."""
    if spec.startswith("env:"):
        name = spec[4:]
        value = os.environ.get(name)
        if value is None:
            raise UsageError(f"environment variable {name} (named by --key {spec}) is not set")
        return value
    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"key file not found: {spec} (give a file path or env:NAME)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read key file {spec}: {exc}") from None


def generate_key() -> str:
    """A fresh secret: 64 hex characters (256 bits) from the operating system's CSPRNG."""
    return secrets.token_hex(32)


def signing_key(key: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key derived from the secret (HKDF-SHA256, domain-separated)."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SIGNING_INFO).derive(key)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(key: bytes) -> str:
    """The raw 32-byte Ed25519 public key of the secret, as hex: what documents carry."""
    public = signing_key(key).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def keyed_rng(key: bytes, purpose: str) -> np.random.Generator:
    """A numpy generator seeded by HMAC-SHA256(key, domain | purpose): reproducible by the
    key holder, unpredictable to anyone else."""
    digest = hmac.new(key, (_RNG_DOMAIN + purpose).encode("utf-8"), hashlib.sha256).digest()
    words = np.frombuffer(digest, dtype="<u4").astype(np.uint32)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words.tolist())))
