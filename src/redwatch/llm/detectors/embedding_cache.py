"""Precomputed MiniLM embeddings of the packaged training corpora, so that the embedding
detectors fit their heads in a fraction of a second instead of encoding hundreds of texts.

Each corpus `llm/corpus/<name>.jsonl` ships `<name>.minilm.npy` (float32, no pickles) and a
JSON sidecar naming the corpus file's sha256, the encoder's weights (name, size, sha256) and
the array's shape. A cache is used only when all of them match; otherwise the caller encodes
the corpus itself and the reason is logged once. Regenerate every cache file with
`python -m redwatch.llm.detectors.embedding_cache` (add `--check` to only report staleness).
Changing how texts are encoded (pooling, normalisation, truncation) must bump FORMAT."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.exceptions import DataError, RedwatchError, TargetError
from redwatch.llm.detectors.textclf import CORPORA, load_corpus

FORMAT = 1
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
REBUILD = "python -m redwatch.llm.detectors.embedding_cache"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_LOGGED: set[tuple[str, str, str]] = set()
_DIGESTS: dict[tuple[str, int, int], str] = {}

Encode = Callable[[Sequence[str], str], np.ndarray]


def cache_files(corpus: str, directory: Path | None = None) -> tuple[Path, Path]:
    """The array and sidecar paths of a corpus's cache (default: next to the corpus)."""
    folder = directory if directory is not None else CORPUS_DIR
    return folder / f"{corpus}.minilm.npy", folder / f"{corpus}.minilm.json"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks; remembered per path, size and mtime, so
    the 90 MB weights file is hashed once per process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        known = _DIGESTS.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    with _LOCK:
        _DIGESTS[key] = digest.hexdigest()
    return digest.hexdigest()


def model_fingerprint(model_path: str | Path) -> dict[str, Any] | None:
    """Name, weights file, size and sha256 of the encoder's weights; None when the folder
    holds no weights file."""
    for candidate in WEIGHT_FILES:
        weights = Path(model_path) / candidate
        if weights.is_file():
            return {
                "name": MODEL_NAME,
                "weights_file": candidate,
                "weights_bytes": weights.stat().st_size,
                "weights_sha256": file_sha256(weights),
            }
    return None


def expected_metadata(corpus: str, model_path: str | Path) -> dict[str, Any] | str:
    """The sidecar a fresh cache for this corpus and encoder would carry (without the
    shape), or the reason none can be made."""
    source = CORPUS_DIR / f"{corpus}.jsonl"
    if not source.is_file():
        return f"no corpus file {source}"
    model = model_fingerprint(model_path)
    if model is None:
        return f"no weights file ({' or '.join(WEIGHT_FILES)}) in {model_path}"
    return {"format": FORMAT, "corpus_sha256": file_sha256(source), "model": model}


def _read_sidecar(path: Path) -> dict[str, Any] | str:
    """The sidecar's JSON object, or the reason it cannot be read."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no cache file {path.name}"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"unreadable {path.name} ({exc})"
    return raw if isinstance(raw, dict) else f"{path.name} is not a JSON object"


def stale_reason(corpus: str, model_path: str | Path, directory: Path | None = None) -> str | None:
    """Why the shipped cache cannot be used for this corpus and encoder; None when its
    sidecar matches the corpus file and the weights."""
    expected = expected_metadata(corpus, model_path)
    if isinstance(expected, str):
        return expected
    sidecar = _read_sidecar(cache_files(corpus, directory)[1])
    if isinstance(sidecar, str):
        return sidecar
    for key, what in (("format", "cache format"), ("corpus_sha256", "corpus"), ("model", "model")):
        if sidecar.get(key) != expected[key]:
            return f"{what} changed since the cache was built"
    return None


def _read_array(path: Path, shape: tuple[int, int], recorded: object) -> np.ndarray | str:
    """The cached float32 array (never unpickled), or the reason it does not fit."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        return f"unreadable {path.name} ({exc})"
    if array.dtype != np.float32 or array.shape != shape or list(shape) != recorded:
        return f"{path.name} holds {array.dtype} {array.shape}, expected float32 {shape}"
    if not np.isfinite(array).all():
        return f"{path.name} holds non-finite values"
    return array


def _log_once(corpus: str, model_path: str | Path, reason: str) -> None:
    """Say once per process, corpus, encoder and reason why the corpus is encoded afresh."""
    key = (corpus, str(model_path), reason)
    with _LOCK:
        if key in _LOGGED:
            return
        _LOGGED.add(key)
    log.warning(
        "embedding cache for %s not used: %s; encoding the corpus (%s)",
        corpus,
        reason,
        f"regenerate with: {REBUILD}",
    )


def load(
    corpus: str, model_path: str | Path, shape: tuple[int, int], directory: Path | None = None
) -> np.ndarray | None:
    """The cached embeddings of a corpus when the cache matches the corpus, the encoder and
    `shape` (rows, dimensions); None (with the reason logged once) otherwise."""
    result: np.ndarray | str | None = stale_reason(corpus, model_path, directory)
    if result is None:
        array_path, sidecar_path = cache_files(corpus, directory)
        sidecar = _read_sidecar(sidecar_path)
        recorded = sidecar.get("shape") if isinstance(sidecar, dict) else None
        result = _read_array(array_path, shape, recorded)
    if isinstance(result, str):
        _log_once(corpus, model_path, result)
        return None
    return result


def _replace(path: Path, write: Callable[[Any], None]) -> None:
    """Write a file through a temporary sibling and os.replace (nothing half-written)."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(temp, 0o644)  # mkstemp makes 0600; shipped package data must be readable
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save(
    corpus: str,
    model_path: str | Path,
    embeddings: np.ndarray,
    directory: Path | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a corpus's cache (array first, then the sidecar that vouches for it);
    `metadata` is what expected_metadata said before encoding (default: now)."""
    found = expected_metadata(corpus, model_path) if metadata is None else metadata
    if isinstance(found, str):
        raise TargetError(f"cannot cache {corpus}: {found}")
    array = np.ascontiguousarray(embeddings, dtype=np.float32)
    sidecar = {**found, "shape": list(array.shape)}
    array_path, sidecar_path = cache_files(corpus, directory)
    text = json.dumps(sidecar, indent=2, sort_keys=True) + "\n"
    _replace(array_path, lambda handle: np.save(handle, array, allow_pickle=False))
    _replace(sidecar_path, lambda handle: handle.write(text.encode("utf-8")))
    return array_path


def rebuild(encode: Encode, model_path: str, directory: Path | None = None) -> list[Path]:
    """Encode every packaged corpus with `encode` and write its cache; the array paths.
    DataError when a corpus file changes while it is encoded (the hash must vouch for the
    very texts encoded)."""
    written = []
    for corpus in CORPORA:
        before = expected_metadata(corpus, model_path)
        if isinstance(before, str):
            raise TargetError(f"cannot cache {corpus}: {before}")
        texts, _ = load_corpus(corpus)
        embeddings = encode(texts, model_path)
        if expected_metadata(corpus, model_path) != before:
            raise DataError(
                f"{corpus}: corpus or weights changed while encoding; run {REBUILD} again"
            )
        written.append(save(corpus, model_path, embeddings, directory, before))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate every cache file (or, with --check, list the stale ones: exit 1 if any);
    a failure is one line on stderr and exit 2."""
    from redwatch.llm.detectors.embedding import default_model_path, encode  # (imports us)

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        model_path = default_model_path()
        if args == ["--check"]:
            stale = [(c, stale_reason(c, model_path)) for c in CORPORA]
            for corpus, reason in stale:
                print(f"{corpus}: {reason or 'up to date'}")
            return 1 if any(reason for _, reason in stale) else 0
        if args:
            print(f"usage: {REBUILD} [--check]", file=sys.stderr)
            return 2
        for path in rebuild(encode, model_path):
            print(f"wrote {path} and {path.with_suffix('.json').name}")
    except (RedwatchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
