"""The behavioral fingerprint record and its JSON file.

The JSON is self-contained: canary inputs are stored inline (JSON floats round-trip float64
exactly), with a SHA-256 of the inputs so that an edited or truncated file is refused rather
than silently checked against the wrong canaries.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.exceptions import DataError
from redwatch.integrity.fingerprint_canaries import BOUNDARY, DATA

SCHEMA_VERSION = 1
FORMAT_NAME = "redwatch.behavioral-fingerprint"
OUTPUT_MODES = ("scores", "labels")


@dataclass(frozen=True)
class Fingerprint:
    """What a model answered on its canaries, and how far each answer may move by noise.

    `expected` is (canaries x classes) probabilities in "scores" mode and (canaries,) class
    indices in "labels" mode; `tolerances` is the per-canary absolute tolerance (0 for labels).
    """

    model: dict[str, Any]
    outputs: str
    inputs: np.ndarray
    kinds: tuple[str, ...]
    expected: np.ndarray
    tolerances: np.ndarray
    created_at: str
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def inputs_sha256(self) -> str:
        """Digest of the canary inputs (shape, float64 little-endian bytes, kinds)."""
        return canary_digest(self.inputs, self.kinds)

    @property
    def counts(self) -> dict[str, int]:
        """Number of canaries of each kind."""
        return {k: self.kinds.count(k) for k in (DATA, BOUNDARY)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; inputs inline so that the file alone is enough to check a model."""
        return {
            "format": FORMAT_NAME,
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "model": self.model,
            "outputs": self.outputs,
            "seed": self.seed,
            "settings": self.settings,
            "canaries": {
                "count": len(self.kinds),
                "n_features": int(self.inputs.shape[1]),
                "sha256": self.inputs_sha256,
                "kinds": list(self.kinds),
                "inputs": self.inputs.tolist(),
            },
            "expected": self.expected.tolist(),
            "tolerances": self.tolerances.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "fingerprint") -> Fingerprint:
        """Inverse of to_dict; DataError naming the first problem (schema, shape, digest)."""
        return _parse(data, source)


def canary_digest(inputs: np.ndarray, kinds: tuple[str, ...]) -> str:
    """SHA-256 over the canary shape, their float64 bytes and their kinds."""
    arr = np.ascontiguousarray(inputs, dtype="<f8")
    h = hashlib.sha256(f"{arr.shape[0]}x{arr.shape[1]}\n".encode())
    h.update(arr.tobytes())
    h.update("\n".join(kinds).encode())
    return h.hexdigest()


def save_fingerprint(fp: Fingerprint, path: str | Path) -> Path:
    """Write the fingerprint as JSON atomically (temp file, then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(dumps(fp.to_dict()), encoding="utf-8")
    os.replace(tmp, p)
    return p


def dumps(doc: dict[str, Any]) -> str:
    """Indented JSON with one canary (inputs, expected outputs) per line, so that the header
    stays readable and image canaries do not take a line per pixel."""
    rows = {
        "@inputs@": doc["canaries"]["inputs"],
        "@expected@": doc["expected"],
    }
    shell = {
        **doc,
        "canaries": {**doc["canaries"], "inputs": "@inputs@"},
        "expected": "@expected@",
        "tolerances": "@tolerances@",
    }
    text = json.dumps(shell, indent=1).replace('"@tolerances@"', json.dumps(doc["tolerances"]))
    for marker, values in rows.items():
        body = ",\n  ".join(json.dumps(v) for v in values)
        text = text.replace(f'"{marker}"', f"[\n  {body}\n ]" if values else "[]")
    return text + "\n"


def load_fingerprint(path: str | Path) -> Fingerprint:
    """Read and validate a fingerprint file; DataError with a one-line reason if it is bad."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"fingerprint file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p} is not a fingerprint JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{p} is not a fingerprint JSON file (top level is not an object)")
    return _parse(data, str(p))


def _parse(data: dict[str, Any], source: str) -> Fingerprint:
    if data.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise DataError(f"{source}: not a behavioral fingerprint (format {data.get('format')!r})")
    version = data.get("schema_version")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise DataError(f"{source}: unsupported fingerprint schema_version {version!r}")
    try:
        canaries = data["canaries"]
        outputs = str(data["outputs"])
        inputs = np.asarray(canaries["inputs"], dtype=np.float64)
        kinds = tuple(str(k) for k in canaries["kinds"])
        expected = np.asarray(
            data["expected"], dtype=np.float64 if outputs == "scores" else np.int64
        )
        tolerances = np.asarray(data["tolerances"], dtype=np.float64)
        fp = Fingerprint(
            model=dict(data.get("model", {})),
            outputs=outputs,
            inputs=inputs,
            kinds=kinds,
            expected=expected,
            tolerances=tolerances,
            created_at=str(data.get("created_at", "")),
            seed=int(data.get("seed", 0)),
            settings=dict(data.get("settings", {})),
            schema_version=version,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{source}: malformed fingerprint ({type(exc).__name__}: {exc})") from None
    _validate(fp, str(canaries.get("sha256", "")), source)
    return fp


def _validate(fp: Fingerprint, digest: str, source: str) -> None:
    n = len(fp.kinds)
    if fp.outputs not in OUTPUT_MODES:
        raise DataError(f"{source}: unknown outputs mode {fp.outputs!r}")
    if n == 0 or fp.inputs.ndim != 2 or len(fp.inputs) != n:
        raise DataError(f"{source}: canary inputs do not match the {n} canary kinds")
    if set(fp.kinds) - {DATA, BOUNDARY}:
        raise DataError(f"{source}: unknown canary kind in {sorted(set(fp.kinds))}")
    want_ndim = 2 if fp.outputs == "scores" else 1
    if fp.expected.ndim != want_ndim or len(fp.expected) != n or fp.tolerances.shape != (n,):
        raise DataError(f"{source}: expected outputs or tolerances do not match {n} canaries")
    if not (np.all(np.isfinite(fp.inputs)) and np.all(fp.tolerances >= 0)):
        raise DataError(f"{source}: canary inputs or tolerances are not finite and non-negative")
    if digest != fp.inputs_sha256:
        raise DataError(f"{source}: canary inputs do not match their sha256 (file was modified)")
