"""Signed JSON documents (commitments, certificates, fingerprints): a canonical byte form,
an Ed25519 signature over it, and atomic reads and writes.

The signature block carries the public key, so anyone can check a document; whether that
public key belongs to the claimed owner is settled outside (publish it or deposit the
commitment with a third party when it is made).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from redwatch.exceptions import DataError, UsageError
from redwatch.guard.patching import write_text_atomic as _atomic
from redwatch.ip.keys import public_key_hex, signing_key

ALGORITHM = "ed25519"


def canonical_json(doc: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, ASCII only: the bytes a signature covers."""
    try:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"document is not plain JSON: {exc}") from None
    return text.encode("ascii")


def sign_document(doc: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A copy of `doc` with a `signature` block over canonical_json(doc)."""
    if "signature" in doc:
        raise UsageError("document is already signed")
    value = signing_key(key).sign(canonical_json(doc))
    signed = copy.deepcopy(doc)
    signed["signature"] = {
        "algorithm": ALGORITHM,
        "public_key": public_key_hex(key),
        "value": value.hex(),
    }
    return signed


def check_signature(doc: dict[str, Any], public_key: str | None = None) -> bool:
    """True when the document's signature verifies (against `public_key` when given)."""
    block = doc.get("signature") if isinstance(doc, dict) else None
    if not isinstance(block, dict) or block.get("algorithm") != ALGORITHM:
        return False
    signer = block.get("public_key")
    if not isinstance(signer, str) or (public_key is not None and signer != public_key):
        return False
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        verifier = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signer))
        verifier.verify(bytes.fromhex(str(block.get("value"))), canonical_json(body))
    except (ValueError, InvalidSignature, UsageError):
        return False
    return True


def require_signature(doc: dict[str, Any], what: str, public_key: str | None = None) -> None:
    """DataError (one line) unless the document carries a signature that verifies."""
    if not isinstance(doc, dict) or "signature" not in doc:
        raise DataError(f"{what} is not signed")
    if not check_signature(doc, public_key):
        other = public_key is not None and doc["signature"].get("public_key") != public_key
        raise DataError(
            f"{what} was signed by another key" if other else f"{what}: signature does not verify"
        )


def sha256_hex(data: bytes) -> str:
    """`sha256:` and the hex digest of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder (the guard's atomic writer), so no
    reader sees half a file; UsageError naming the path when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_json_atomic(path: Path, doc: Any) -> None:
    """Indented JSON with a final newline, written atomically."""
    write_text_atomic(path, json.dumps(doc, indent=1, sort_keys=False) + "\n")


def read_json(path: Path, what: str) -> Any:
    """Parsed JSON of a file; DataError naming `what` and the file when it is missing or
    malformed."""
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{what} {path} is not valid JSON: {exc}") from None
