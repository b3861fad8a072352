"""The shipped MiniLM corpus embeddings: fresh against the corpora and weights in the tree,
used instead of encoding when they match, refused (with the reason logged once) when the
corpus, the weights, the shape or the file itself do not fit. No test here loads MiniLM."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from redwatch.exceptions import DataError, TargetError
from redwatch.llm.detectors import embedding, embedding_cache
from redwatch.llm.detectors.embedding import DIMENSIONS, corpus_embeddings, default_model_path
from redwatch.llm.detectors.embedding_cache import (
    REBUILD,
    cache_files,
    load,
    rebuild,
    save,
    stale_reason,
)
from redwatch.llm.detectors.textclf import CORPORA, load_corpus


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    """A stand-in model folder: only the weights file matters to the fingerprint."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"not really weights")
    return folder


def _rows(corpus: str) -> int:
    """Number of items in a packaged corpus."""
    return len(load_corpus(corpus)[0])


def _fake_encode(texts: Sequence[str], model_path: str) -> np.ndarray:
    """Deterministic stand-in embeddings (row i is i/1000 everywhere)."""
    return np.repeat(np.arange(len(texts), dtype=np.float32)[:, None] / 1000, DIMENSIONS, 1)


@pytest.mark.parametrize("corpus", CORPORA)
def test_shipped_cache_matches_the_corpus_and_the_weights(corpus: str) -> None:
    """Fails when a corpus or the weights changed after the cache was built."""
    reason = stale_reason(corpus, default_model_path())
    assert reason is None, f"stale embedding cache for {corpus}: {reason}; run: {REBUILD}"
    cached = load(corpus, default_model_path(), (_rows(corpus), DIMENSIONS))
    assert cached is not None
    assert cached.dtype == np.float32
    assert np.allclose(np.linalg.norm(cached, axis=1), 1.0, atol=1e-4)


def test_prepare_takes_the_cache_instead_of_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a fresh cache the corpus is never encoded (encode would raise here)."""

    def refuse(texts: Sequence[str], model_path: str | None = None) -> np.ndarray:
        reason = stale_reason("injection", default_model_path())
        raise AssertionError(f"the corpus was encoded (cache: {reason or 'fresh'})")

    monkeypatch.setattr(embedding, "encode", refuse)
    texts, _ = load_corpus("injection")
    vectors = corpus_embeddings("injection", texts, default_model_path())
    assert vectors.shape == (len(texts), DIMENSIONS)


def test_round_trip_and_every_mismatch(
    weights: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A saved cache loads back; a changed corpus hash, weights file or shape is refused and
    the reason is logged once with the rebuild command."""
    rows = _rows("refusal")
    array = _fake_encode(["x"] * rows, str(weights))
    save("refusal", weights, array, tmp_path)
    assert np.array_equal(load("refusal", weights, (rows, DIMENSIONS), tmp_path), array)
    assert load("refusal", weights, (rows + 1, DIMENSIONS), tmp_path) is None

    sidecar = cache_files("refusal", tmp_path)[1]
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "corpus_sha256": "0" * 64}))
    assert stale_reason("refusal", weights, tmp_path) == "corpus changed since the cache was built"
    sidecar.write_text(json.dumps(meta))
    (weights / "model.safetensors").write_bytes(b"other weights")
    assert stale_reason("refusal", weights, tmp_path) == "model changed since the cache was built"
    with caplog.at_level(logging.WARNING, logger=embedding_cache.__name__):
        assert load("refusal", weights, (rows, DIMENSIONS), tmp_path) is None
        assert load("refusal", weights, (rows, DIMENSIONS), tmp_path) is None
    logged = [r.getMessage() for r in caplog.records if "model changed" in r.getMessage()]
    assert len(logged) == 1
    assert REBUILD in logged[0]


def test_unusable_files_are_refused_never_unpickled(weights: Path, tmp_path: Path) -> None:
    """A pickled object array, a truncated array, bad JSON or missing files give None."""
    rows = _rows("injection")
    save("injection", weights, _fake_encode(["x"] * rows, str(weights)), tmp_path)
    array_path, sidecar_path = cache_files("injection", tmp_path)
    shape = (rows, DIMENSIONS)
    np.save(array_path, np.array([{"evil": 1}] * rows, dtype=object), allow_pickle=True)
    assert load("injection", weights, shape, tmp_path) is None
    array_path.write_bytes(array_path.read_bytes()[:40])
    assert load("injection", weights, shape, tmp_path) is None
    sidecar_path.write_text("{not json")
    assert "unreadable" in str(stale_reason("injection", weights, tmp_path))
    sidecar_path.unlink()
    assert "no cache file" in str(stale_reason("injection", weights, tmp_path))
    assert "no weights file" in str(stale_reason("injection", tmp_path / "nowhere"))


def test_rebuild_writes_every_corpus_atomically(weights: Path, tmp_path: Path) -> None:
    """rebuild() encodes each packaged corpus and leaves only the cache files behind."""
    written = rebuild(_fake_encode, str(weights), tmp_path)
    assert [p.name for p in written] == [f"{c}.minilm.npy" for c in CORPORA]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["model", *(f"{c}.minilm.{s}" for c in CORPORA for s in ("npy", "json"))]
    )
    for corpus in CORPORA:
        assert load(corpus, weights, (_rows(corpus), DIMENSIONS), tmp_path) is not None
    with pytest.raises(TargetError, match="no weights file"):
        save("refusal", tmp_path / "nowhere", _fake_encode(["x"], ""), tmp_path)


def test_rebuild_refuses_inputs_that_change_while_encoding(weights: Path, tmp_path: Path) -> None:
    """The sidecar must vouch for what was encoded: a change mid-way is a DataError."""

    def encode_and_swap(texts: Sequence[str], model_path: str) -> np.ndarray:
        (weights / "model.safetensors").write_bytes(b"swapped while encoding")
        return _fake_encode(texts, model_path)

    with pytest.raises(DataError, match="changed while encoding"):
        rebuild(encode_and_swap, str(weights), tmp_path)
    assert not list(tmp_path.glob("*.minilm.*"))


def test_check_entry_point_reports_fresh_caches() -> None:
    """`python -m ...embedding_cache --check` names each corpus and exits 0 when fresh;
    an unknown argument is one usage line and exit 2."""
    module = "redwatch.llm.detectors.embedding_cache"
    done = subprocess.run(
        [sys.executable, "-m", module, "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"{c}: up to date" for c in CORPORA]
    assert embedding_cache.main(["--bogus"]) == 2
