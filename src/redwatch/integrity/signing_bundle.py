"""Read the statement inside an OpenSSF model-signing signature file (a Sigstore bundle).

The bundle's DSSE payload is an in-toto statement whose predicate lists every signed file with
its digest and how the model was serialized. We read it for two things the model-signing API
does not hand back: the hashing settings to verify with, and which files differ on a mismatch.
What is read here is trusted only after model-signing has checked the signature over it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redwatch.exceptions import SignatureError

PREDICATE_TYPE = "https://model_signing/signature/v1.0"
LEGACY_PREDICATE_TYPE = "https://model_signing/Digests/v0.1"


@dataclass(frozen=True)
class Serialization:
    """How the signer turned the model into (name, digest) pairs."""

    method: str = "files"
    hash_type: str = "sha256"
    allow_symlinks: bool = False
    shard_size: int | None = None
    ignore_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignedStatement:
    """The signed manifest: model name, serialization, and digest per resource name."""

    model_name: str
    serialization: Serialization
    resources: dict[str, str] = field(default_factory=dict)


def read_statement(signature: Path) -> SignedStatement:
    """Parse the signature file; SignatureError naming the problem when it is not a bundle."""
    if signature.is_dir():
        raise SignatureError(f"signature path {signature} is a folder, not a file")
    if not signature.is_file():
        raise SignatureError(f"no signature at {signature}: the model is unsigned")
    try:
        text = signature.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SignatureError(f"cannot read signature {signature}: {reason}") from None
    try:
        return _statement(_payload(json.loads(text)))
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        detail = f": {exc}" if isinstance(exc, ValueError) and str(exc) else ""
        raise SignatureError(
            f"{signature} is not a model-signing signature bundle{detail}"
        ) from None


def _payload(bundle: Any) -> Any:
    envelope = bundle["dsseEnvelope"]
    return json.loads(base64.b64decode(envelope["payload"], validate=True))


def _statement(payload: Any) -> SignedStatement:
    kind = payload["predicateType"]
    if kind == LEGACY_PREDICATE_TYPE:
        resources = {s["name"]: str(s["digest"]["sha256"]) for s in payload["subject"]}
        return SignedStatement("", Serialization(), resources)
    if kind != PREDICATE_TYPE:
        raise ValueError(f"unknown predicate type {kind}")
    predicate = payload["predicate"]
    resources = {str(r["name"]): str(r["digest"]) for r in predicate["resources"]}
    name = str(payload["subject"][0]["name"])
    return SignedStatement(name, _serialization(predicate["serialization"]), resources)


def _serialization(args: Any) -> Serialization:
    method = str(args["method"])
    if method not in ("files", "shards"):
        raise ValueError(f"unknown serialization method {method}")
    shard = args.get("shard_size")
    return Serialization(
        method=method,
        hash_type=str(args["hash_type"]),
        allow_symlinks=_flag(args.get("allow_symlinks", False)),
        shard_size=int(shard) if shard is not None else None,
        ignore_paths=tuple(str(p) for p in args.get("ignore_paths", ())),
    )


def _flag(value: Any) -> bool:
    """Older signers wrote booleans as the strings "true"/"false"."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
