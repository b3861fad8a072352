"""Sign and verify model files and folders in the OpenSSF model-signing format.

Signing and the cryptographic check are done by the `model-signing` package itself, with the
same settings as its CLI (SHA-256 per file, git files and the signature file ignored), so that
`model_signing verify key` accepts our signatures and we accept its. Around it we add clean
one-line errors and, on a mismatch, the names of the modified, extra and missing files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redwatch.exceptions import SignatureError, TargetError, UsageError
from redwatch.integrity.signing_bundle import Serialization, SignedStatement, read_statement
from redwatch.integrity.signing_diff import describe_mismatch
from redwatch.integrity.signing_keys import (
    KeyPair,
    check_private_key,
    check_public_key,
    generate_keypair,
)
from redwatch.integrity.signing_paths import (
    check_tree,
    default_signature_path,
    existing_model,
    ignored_inside,
)

__all__ = [
    "KeyPair",
    "VerifiedModel",
    "default_signature_path",
    "generate_keypair",
    "require_valid_signature",
    "sign_model",
    "verify_model",
]

_DEFAULT_SHARD = 1_000_000_000


@dataclass(frozen=True)
class VerifiedModel:
    """A model whose every file matched a signature made with the given key."""

    model: Path
    signature: Path
    files: int


def sign_model(model: Path, private_key: Path, signature: Path | None = None) -> Path:
    """Sign a model file or folder with an EC private key; returns the signature path."""
    hashing, signing, _ = _backend()
    model = existing_model(model)
    sig = signature or default_signature_path(model)
    if sig.is_dir():
        raise UsageError(f"signature path {sig} is a folder, not a file")
    if not sig.parent.is_dir():
        raise UsageError(f"folder for the signature does not exist: {sig.parent}")
    check_private_key(private_key)
    check_tree(model)
    ignored = ignored_inside(model, sig)
    config = hashing.Config().set_ignored_paths(paths=ignored, ignore_git_paths=True)
    try:
        signing.Config().use_elliptic_key_signer(private_key=private_key).set_hashing_config(
            config
        ).sign(model, sig)
    except OSError as exc:
        raise TargetError(f"cannot sign {model}: {exc.strerror}: {exc.filename}") from None
    except ValueError as exc:
        raise TargetError(f"cannot sign {model}: {_first_line(exc)}") from None
    return sig


def verify_model(model: Path, public_key: Path, signature: Path | None = None) -> VerifiedModel:
    """Check a model against its signature; SignatureError naming what does not match."""
    hashing, _, verifying = _backend()
    model = existing_model(model)
    sig = signature or default_signature_path(model)
    check_public_key(public_key)
    statement = read_statement(sig)
    check_tree(model, allow_symlinks=statement.serialization.allow_symlinks)
    try:
        config = _hashing_config(hashing, statement.serialization, ignored_inside(model, sig))
    except ValueError as exc:
        raise SignatureError(
            f"signature {sig} uses unsupported hashing: {_first_line(exc)}"
        ) from None
    verifier = verifying.Config().use_elliptic_key_verifier(public_key=public_key)
    try:
        verifier.set_hashing_config(config).verify(model, sig)
    except OSError as exc:
        raise TargetError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except Exception as exc:  # model-signing raises ValueError, InvalidSignature, pydantic errors
        raise _failure(exc, model, sig, public_key, statement, hashing) from None
    return VerifiedModel(model, sig, len(statement.resources))


def require_valid_signature(path: Path, public_key: Path, signature: Path | None = None) -> None:
    """Gate for loaders: return only if the model at path is validly signed for public_key."""
    verify_model(path, public_key, signature)


def _failure(
    exc: Exception,
    model: Path,
    sig: Path,
    public_key: Path,
    statement: SignedStatement,
    hashing: Any,
) -> SignatureError:
    """Turn a model-signing verification error into one line that names the cause."""
    message = _first_line(exc)
    if message.startswith("Signature mismatch"):
        config = _hashing_config(hashing, statement.serialization, ignored_inside(model, sig))
        actual = {
            d.identifier: d.digest.digest_hex for d in config.hash(model).resource_descriptors()
        }
        sharded = statement.serialization.method == "shards"
        diff = describe_mismatch(statement.resources, actual, model, sharded=sharded)
        return SignatureError(f"{model} does not match its signature {sig}: {diff}")
    if message.startswith("Key mismatch") or type(exc).__name__ == "InvalidSignature":
        return SignatureError(
            f"signature {sig} does not verify with the key {public_key}"
            " (signed with another key, or the signature was altered)"
        )
    return SignatureError(f"signature {sig} is invalid: {message or type(exc).__name__}")


def _hashing_config(hashing: Any, serialization: Serialization, ignored: list[Path]) -> Any:
    """A model-signing hashing config that reproduces how the signer serialized the model."""
    config = hashing.Config()
    if serialization.method == "shards":
        config.use_shard_serialization(
            hashing_algorithm=serialization.hash_type,
            shard_size=serialization.shard_size or _DEFAULT_SHARD,
            allow_symlinks=serialization.allow_symlinks,
        )
    else:
        config.use_file_serialization(
            hashing_algorithm=serialization.hash_type,
            allow_symlinks=serialization.allow_symlinks,
        )
    config.set_allow_symlinks(serialization.allow_symlinks)
    paths = [Path(p) for p in serialization.ignore_paths] + ignored
    return config.set_ignored_paths(paths=paths, ignore_git_paths=True)


def _backend() -> tuple[Any, Any, Any]:
    """model-signing's hashing, signing and verifying modules (an optional extra)."""
    try:
        from model_signing import hashing, signing, verifying
    except ImportError as exc:
        raise UsageError(
            f"model signing needs the 'signing' extra (pip install 'redwatch[signing]'): {exc}"
        ) from None
    return hashing, signing, verifying


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]
