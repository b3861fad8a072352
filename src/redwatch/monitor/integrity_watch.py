"""Periodic integrity checks of a deployed model: its artifact hash against the one
recorded at registration, its signature (when a public key and signature are named), and
its behavioral fingerprint (answers on seeded canaries) against the one taken when the
monitor first saw this model version. Each check gives one IntegrityResult."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from redwatch.exceptions import RedwatchError, first_line
from redwatch.integrity.digest import sha256_file
from redwatch.integrity.fingerprint import Fingerprint, build_fingerprint, check_fingerprint
from redwatch.integrity.signing import verify_model
from redwatch.targets.base import Target

HASH = "hash"
SIGNATURE = "signature"
FINGERPRINT = "fingerprint"


@dataclass(frozen=True)
class IntegrityResult:
    """Outcome of one check: passed or not, what was expected, what was found, and a line."""

    check: str
    ok: bool
    expected: str
    actual: str
    detail: str


def artifact_sha256(path: Path) -> str:
    """Hex SHA-256 of a model file; of a folder, the SHA-256 of its sorted
    "relative path, file hash" lines."""
    if path.is_file():
        return sha256_file(path)
    lines = [
        f"{p.relative_to(path).as_posix()}\t{sha256_file(p)}\n"
        for p in sorted(path.rglob("*"))
        if p.is_file()
    ]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def normal_hash(value: str) -> str:
    """A hash without its `sha256:` prefix, lower case."""
    return value.removeprefix("sha256:").lower()


def check_hash(path: Path, expected: str) -> IntegrityResult:
    """The artifact at `path` still has the `expected` SHA-256."""
    want = normal_hash(expected)
    if not path.exists():
        return IntegrityResult(HASH, False, want, "missing", f"model artifact {path} is gone")
    try:
        got = artifact_sha256(path)
    except OSError as exc:
        return IntegrityResult(HASH, False, want, "unreadable", f"cannot read {path}: {exc}")
    if got == want:
        return IntegrityResult(HASH, True, want, got, f"{path.name} matches its recorded hash")
    return IntegrityResult(HASH, False, want, got, f"{path.name} changed since it was registered")


def check_signature(path: Path, public_key: Path, signature: Path | None) -> IntegrityResult:
    """The artifact verifies against its signature with `public_key`."""
    expected = f"signed with {public_key.name}"
    try:
        verified = verify_model(path, public_key, signature)
    except RedwatchError as exc:
        return IntegrityResult(SIGNATURE, False, expected, "invalid", first_line(exc))
    detail = f"{verified.files} file(s) match the signature {verified.signature.name}"
    return IntegrityResult(SIGNATURE, True, expected, "valid", detail)


def take_fingerprint(target: Target, x: np.ndarray, n_canaries: int = 64) -> Fingerprint:
    """The behavioral fingerprint of a healthy model on canaries drawn from reference rows."""
    return build_fingerprint(target, x, n_canaries=min(n_canaries, len(x)), seed=0)


def check_behavior(target: Target, fingerprint: Fingerprint) -> IntegrityResult:
    """The model still answers its fingerprint's canaries within tolerance."""
    expected = f"{len(fingerprint.kinds)} canaries within tolerance"
    try:
        outcome = check_fingerprint(target, fingerprint)
    except RedwatchError as exc:
        return IntegrityResult(FINGERPRINT, False, expected, first_line(exc), first_line(exc))
    actual = f"{len(outcome.moved)} of {outcome.checked} canaries moved"
    return IntegrityResult(FINGERPRINT, outcome.matches, expected, actual, outcome.summary())
