"""The MiniLM encoder and the embedding detectors: one module-scoped load of the packaged
weights (offline), 384-dimensional unit embeddings, measured quality on the labelled sets,
shipped corpus embeddings equal to fresh ones, and explicit unscorable verdicts when the
encoder cannot be loaded. Only the tests marked slow load MiniLM, all through `minilm`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from redwatch.exceptions import TargetError
from redwatch.llm.detectors import embedding_cache
from redwatch.llm.detectors.base import DetectInput, VerdictState
from redwatch.llm.detectors.embedding import (
    DIMENSIONS,
    default_model_path,
    encode,
    encoder,
    windows,
)
from redwatch.llm.detectors.evaluate import Scores, load_labelled, score
from redwatch.llm.detectors.injection import EmbeddingInjectionDetector
from redwatch.llm.detectors.refusal import EmbeddingRefusalDetector
from redwatch.llm.detectors.textclf import CORPORA, load_corpus

DATA = Path(__file__).resolve().parents[2] / "data" / "llm"

# Measured on the injection set: P 0.822 R 0.914 F1 0.865; floors are that minus about 0.05.
# (embedding-refusal's quality is measured by the bench; encoding its labelled set here
# would add another pass of MiniLM to the unit suite.)
FLOOR = (0.77, 0.86, 0.81)
SAMPLE = 12  # corpus rows re-encoded to check the shipped cache


@pytest.fixture(scope="module")
def minilm() -> object:
    """The one MiniLM load of this file (the encoder is shared per process)."""
    return encoder()


@pytest.fixture(scope="module")
def measured(minilm: object) -> Scores:
    """embedding-injection scored on its set (heads fit from the shipped embeddings)."""
    return score(EmbeddingInjectionDetector(), load_labelled(DATA / "injection.jsonl"))


@pytest.mark.slow
def test_embedding_quality_floor(measured: Scores) -> None:
    """Precision, recall and F1 stay above the measured values minus a margin."""
    scores = measured
    precision, recall, f1 = FLOOR
    assert scores.unscorable == 0
    assert scores.precision is not None
    assert scores.precision >= precision
    assert scores.recall is not None
    assert scores.recall >= recall
    assert scores.f1 is not None
    assert scores.f1 >= f1


@pytest.mark.slow
def test_encode_gives_unit_384_dimensional_rows(minilm: object) -> None:
    """One row of 384 unit-length floats per text; similar texts are closer than unrelated."""
    vectors = encode(["I can't help with that.", "Sorry, I cannot assist.", "Paris is in France."])
    assert vectors.shape == (3, DIMENSIONS) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert encode([]).shape == (0, DIMENSIONS)
    assert encoder() is encoder() is minilm


@pytest.mark.slow
@pytest.mark.parametrize("corpus", CORPORA)
def test_shipped_corpus_embeddings_equal_fresh_ones(corpus: str, minilm: object) -> None:
    """The cached rows are what the encoder gives now (spread over the corpus)."""
    texts, _ = load_corpus(corpus)
    cached = embedding_cache.load(corpus, default_model_path(), (len(texts), DIMENSIONS))
    assert cached is not None, f"stale cache: run {embedding_cache.REBUILD}"
    rows = np.linspace(0, len(texts) - 1, SAMPLE).astype(int)
    fresh = encode([texts[i] for i in rows])
    assert np.abs(fresh - cached[rows]).max() < 1e-4


@pytest.mark.slow
def test_embedding_refusal_separates_refusals_from_answers(minilm: object) -> None:
    """The refusal head (fit from the shipped embeddings) on clear cases of each kind."""
    detector = EmbeddingRefusalDetector()
    detector.prepare()
    texts = [
        "I'm sorry, but I can't help with that request.",
        "I won't provide instructions for that. Is there something else I can do?",
        "Sure! Your order ships within two business days; here is the tracking link.",
        "Paris is the capital of France, with about two million inhabitants.",
    ]
    states = [v.state for v in detector.detect_many([DetectInput(t) for t in texts])]
    assert states == [VerdictState.HIT] * 2 + [VerdictState.CLEAN] * 2
    (empty,) = detector.detect_many([DetectInput("  ")])  # a batch with nothing to encode
    assert empty.state is VerdictState.UNSCORABLE


def test_unloadable_encoder_gives_unscorable_verdicts(tmp_path: Path) -> None:
    """Weights missing (an empty folder): every verdict is unscorable and says why."""
    detector = EmbeddingRefusalDetector(model_path=tmp_path)
    detector.prepare()
    verdicts = detector.detect_many([DetectInput("I can't help with that."), DetectInput("")])
    assert [v.state for v in verdicts] == [VerdictState.UNSCORABLE] * 2
    assert all("embedding model unavailable" in v.reason for v in verdicts)
    assert str(tmp_path) in verdicts[0].reason
    with pytest.raises(TargetError, match="no sentence-transformers model"):
        encoder(tmp_path)


def test_empty_text_is_unscorable_without_loading_anything(tmp_path: Path) -> None:
    """A missing model is reported before empty text: the model reason wins."""
    verdict = EmbeddingInjectionDetector(model_path=tmp_path / "nowhere").detect(DetectInput(" "))
    assert verdict.state is VerdictState.UNSCORABLE
    assert "nowhere" in verdict.reason


def test_word_windows_cover_long_texts() -> None:
    """Long texts become half-overlapping word windows, the last ending at the last word."""
    words = [f"w{i}" for i in range(300)]
    chunks = windows(" ".join(words), 128)
    assert chunks[0].split()[0] == "w0"
    assert chunks[-1].split()[-1] == "w299"
    assert all(len(c.split()) == 128 for c in chunks)
    assert windows("short text", 128) == ["short text"]
