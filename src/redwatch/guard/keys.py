"""API keys for the guard's auth stage: generation, the stored (salted scrypt) form, and
constant-time verification. A policy only ever holds the stored form, never a key.

A key reads `<id>.<secret>`: the id names the policy entry (so one request costs one hash,
not one per listed key) and the secret is 32 random bytes, URL-safe base64. The stored form
is `scrypt$<n>$<r>$<p>$<salt>$<digest>` with a fresh 16-byte salt per key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from redwatch.exceptions import UsageError

KEY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DEFAULT_COST = 2**14
_KEY_ID = re.compile(KEY_ID_PATTERN)
_STORED = re.compile(r"^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_=-]+)\$([A-Za-z0-9_=-]+)$")
_DKLEN = 32
_MAX_KEY_CHARS = 512


@dataclass(frozen=True)
class StoredKey:
    """A parsed stored form: scrypt parameters, salt and digest."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def key_id(key: str) -> str | None:
    """The id part of a presented key, None when the key does not have the `<id>.` form."""
    head, dot, _ = key.partition(".")
    return head if dot and _KEY_ID.match(head) else None


def hash_api_key(key: str, *, cost: int = DEFAULT_COST) -> str:
    """The stored form of `key`: salted scrypt (n=`cost`, r=8, p=1), parameters included."""
    _check_cost(cost)
    salt = secrets.token_bytes(16)
    digest = _scrypt(key, StoredKey(cost, 8, 1, salt, b""))
    return f"scrypt${cost}$8$1${_b64(salt)}${_b64(digest)}"


def parse_stored(stored: str) -> StoredKey:
    """Parse a stored form; UsageError naming the problem when it is not one (a plain key
    pasted into a policy is refused here)."""
    match = _STORED.match(stored)
    if match is None:
        raise UsageError("not a stored key hash (scrypt$n$r$p$salt$digest); use hash_api_key")
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    _check_cost(n)
    if not (1 <= r <= 64 and 1 <= p <= 16):
        raise UsageError(f"scrypt parameters r={r}, p={p} are out of range")
    try:
        salt, digest = _unb64(match.group(4)), _unb64(match.group(5))
    except (binascii.Error, ValueError):
        raise UsageError("stored key hash has invalid base64") from None
    if len(salt) < 16 or len(digest) != _DKLEN:
        raise UsageError("stored key hash needs a salt of >= 16 bytes and a 32-byte digest")
    return StoredKey(n, r, p, salt, digest)


def verify_api_key(key: str, stored: StoredKey) -> bool:
    """Whether `key` hashes to `stored`, compared in constant time."""
    if len(key) > _MAX_KEY_CHARS:
        return False
    return hmac.compare_digest(_scrypt(key, stored), stored.digest)


def generate_api_key(
    ident: str, role: str, *, quota: dict[str, Any] | None = None, cost: int = DEFAULT_COST
) -> tuple[str, dict[str, Any]]:
    """A new key `<ident>.<secret>` and its policy entry (id, stored hash, role, quota).
    Show the key once to its owner; put only the entry in the policy (`redwatch guard keygen`)."""
    if not _KEY_ID.match(ident):
        raise UsageError(f"key id {ident!r} must match {KEY_ID_PATTERN}")
    key = f"{ident}.{secrets.token_urlsafe(32)}"
    entry: dict[str, Any] = {"id": ident, "hash": hash_api_key(key, cost=cost), "role": role}
    if quota is not None:
        entry["quota"] = dict(quota)
    return key, entry


def _scrypt(key: str, stored: StoredKey) -> bytes:
    """scrypt of the key's UTF-8 bytes with the stored parameters."""
    return hashlib.scrypt(
        key.encode("utf-8"),
        salt=stored.salt,
        n=stored.n,
        r=stored.r,
        p=stored.p,
        maxmem=256 * stored.n * stored.r + 2**20,
        dklen=_DKLEN,
    )


def _check_cost(cost: int) -> None:
    """scrypt's n must be a power of two; below 2^10 it protects nothing."""
    if cost < 2**10 or cost > 2**20 or cost & (cost - 1):
        raise UsageError(f"scrypt cost n={cost} must be a power of two in [2^10, 2^20]")


def _b64(raw: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    """Inverse of _b64 (padding restored)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
