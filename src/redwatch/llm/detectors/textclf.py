"""Learned text classifiers shared by the refusal and injection detectors: the packaged
training corpora, a fast linear classifier (hashed word and character n-grams into a
logistic regression, no vocabulary to store, a few milliseconds per text), a process-wide
cache so each corpus is fitted once, and the Detector base that turns probabilities into
hit/clean/unscorable verdicts."""

from __future__ import annotations

import json
import re
import threading
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import ClassVar

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import DataError, UsageError
from redwatch.llm.detectors.base import DetectInput, Detector, Verdict, VerdictState

CORPORA = ("refusal", "injection")

_LOCK = threading.Lock()
_FITTED: dict[str, TextClassifier] = {}


def load_corpus(name: str) -> tuple[list[str], np.ndarray]:
    """Texts and boolean labels of the packaged corpus `llm/corpus/<name>.jsonl`; DataError
    naming the line when the file is malformed, UsageError for an unknown corpus."""
    if name not in CORPORA:
        raise UsageError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    source = resources.files("redwatch.llm").joinpath("corpus", f"{name}.jsonl")
    texts: list[str] = []
    labels: list[bool] = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            text, label = raw["text"], raw["label"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"corpus {name}:{number}: not a labelled item ({exc})") from None
        if not isinstance(text, str) or not isinstance(label, bool):
            raise DataError(f"corpus {name}:{number}: text must be a string, label a boolean")
        texts.append(text)
        labels.append(label)
    if len(set(labels)) < 2:
        raise DataError(f"corpus {name}: needs both labels")
    return texts, np.asarray(labels, dtype=bool)


_PRIME = np.uint64(1099511628211)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SPACE = re.compile(r"\s+")
_WORD_BYTES = np.zeros(256, dtype=bool)
_WORD_BYTES[list(b"abcdefghijklmnopqrstuvwxyz0123456789_")] = True
_WORD_BYTES[128:] = True  # bytes of non-ASCII letters count as word characters
_SPACE_BYTE = ord(" ")
_EMPTY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class NGrams:
    """Hashed n-grams of one text: feature columns of the word 1-2-grams and byte 2-5-grams,
    and the token each n-gram starts in (so windows of tokens can be scored)."""

    words: np.ndarray
    word_pos: np.ndarray
    chars: np.ndarray
    char_pos: np.ndarray
    tokens: int


def _powers(n: int) -> np.ndarray:
    """_PRIME ** k for k < n, wrapping modulo 2**64."""
    out = np.full(n, _PRIME, dtype=np.uint64)
    out[0] = 1
    return np.cumprod(out, dtype=np.uint64)


def _bucket(hashes: np.ndarray, salt: int, bits: int) -> np.ndarray:
    """Mix salted 64-bit hashes and keep the top `bits` bits as feature indices."""
    mixed = (hashes ^ np.uint64(salt)) * _MIX
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


def _normalise(text: str) -> np.ndarray:
    """Lower-cased UTF-8 bytes with whitespace runs folded into one space."""
    folded = _SPACE.sub(" ", text.lower()).strip()
    return np.frombuffer(folded.encode("utf-8"), dtype=np.uint8)


def _char_ngrams(data: np.ndarray, owner: np.ndarray, bits: int) -> tuple[np.ndarray, ...]:
    """Columns and token positions of every byte 2- to 5-gram (a rolling hash per length)."""
    columns, positions = [_EMPTY], [_EMPTY]
    rolling = data.astype(np.uint64)
    powers = _powers(5)
    for n in range(2, min(5, data.size) + 1):
        rolling = rolling[:-1] + data[n - 1 :].astype(np.uint64) * powers[n - 1]
        columns.append(_bucket(rolling, n, bits))
        positions.append(owner[: rolling.size])
    return np.concatenate(columns), np.concatenate(positions)


def ngrams(text: str, bits: int = 18) -> NGrams:
    """Hash a text's n-grams in numpy (no Python loop over n-grams). A token is a run of
    letters/digits or one punctuation byte; a bigram belongs to its second token."""
    data = _normalise(text)
    word = _WORD_BYTES[data]
    token = word | (data != _SPACE_BYTE)
    if not token.any():
        return NGrams(_EMPTY, _EMPTY, _EMPTY, _EMPTY, 0)
    starts_mask = token & ~(word & np.concatenate(([False], word[:-1])))
    owner = np.cumsum(starts_mask) - 1  # token of each byte (a space: the one before it)
    kept = np.flatnonzero(token)
    first = np.searchsorted(kept, np.flatnonzero(starts_mask))
    offset = np.arange(kept.size) - first[owner[kept]]
    hashed = np.add.reduceat(
        data[kept].astype(np.uint64) * _powers(int(offset.max()) + 1)[offset], first
    )
    count = hashed.size
    words = np.concatenate(
        (_bucket(hashed, 1, bits), _bucket(hashed[:-1] * _MIX + hashed[1:], 7, bits))
    )
    word_pos = np.concatenate((np.arange(count), np.arange(1, count)))
    chars, char_pos = _char_ngrams(data, owner, bits)
    return NGrams(words, word_pos, chars, char_pos, count)


def _scaled_counts(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct columns and their counts divided by the square root of the n-gram total
    (the same scaling `window_margins` applies, so training and scoring agree)."""
    distinct, counts = np.unique(columns, return_counts=True)
    return distinct, counts / np.sqrt(max(columns.size, 1))


def hashed_features(texts: Sequence[str], bits: int = 18) -> sparse.csr_matrix:
    """Feature matrix for fitting: word block in [0, 2**bits), byte block after it."""
    rows = []
    for text in texts:
        grams = ngrams(text, bits)
        word_cols, word_vals = _scaled_counts(grams.words)
        char_cols, char_vals = _scaled_counts(grams.chars)
        rows.append(
            (
                np.concatenate((word_cols, char_cols + (1 << bits))),
                np.concatenate((word_vals, char_vals)),
            )
        )
    indptr = np.cumsum([0, *(cols.size for cols, _ in rows)])
    columns = np.concatenate([cols for cols, _ in rows]) if rows else _EMPTY
    values = np.concatenate([vals for _, vals in rows]) if rows else np.empty(0)
    return sparse.csr_matrix((values, columns, indptr), shape=(len(rows), 2 << bits))


def window_bounds(tokens: int, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Start and end token of each window: the whole text when short or `size` is None,
    else `size`-token windows every size/2 tokens, the last one ending at the text's end."""
    if size is None or tokens <= size:
        return np.array([0]), np.array([tokens])
    starts = np.arange(0, tokens - size + 1, max(1, size // 2))
    if starts[-1] != tokens - size:
        starts = np.append(starts, tokens - size)
    return starts, starts + size


def _block_margins(
    contributions: np.ndarray,
    positions: np.ndarray,
    tokens: int,
    bounds: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Per window: summed weights of its n-grams over the square root of their number."""
    sums = np.concatenate(([0.0], np.cumsum(np.bincount(positions, contributions, tokens))))
    counts = np.concatenate(([0], np.cumsum(np.bincount(positions, minlength=tokens))))
    starts, ends = bounds
    return (sums[ends] - sums[starts]) / np.sqrt(np.maximum(counts[ends] - counts[starts], 1))


class TextClassifier:
    """Hashed word and byte n-grams (see `ngrams`) into a balanced logistic regression.
    Stateless features keep the fitted object small; scoring is additive over n-grams, so
    every window of a long text is scored from one pass with cumulative sums."""

    def __init__(self, bits: int = 18, c: float = 1.0) -> None:
        self.bits = bits
        self.c = c
        self._weights: np.ndarray | None = None
        self._intercept = 0.0

    def fit(self, texts: Sequence[str], labels: np.ndarray) -> TextClassifier:
        """Fit the logistic regression (liblinear: a fraction of a second) and return self."""
        model = LogisticRegression(
            C=self.c, class_weight="balanced", solver="liblinear", random_state=0
        )
        model.fit(hashed_features(texts, self.bits), labels)
        self._weights = np.asarray(model.coef_[0], dtype=float)
        self._intercept = float(model.intercept_[0])
        return self

    def window_margins(self, text: str, window: int | None = None) -> np.ndarray:
        """The model's decision value on each `window`-token window of the text."""
        weights = self._weights
        if weights is None:
            raise UsageError("TextClassifier used before fit")
        grams = ngrams(text, self.bits)
        bounds = window_bounds(grams.tokens, window)
        words = _block_margins(weights[grams.words], grams.word_pos, grams.tokens, bounds)
        chars = weights[grams.chars + (1 << self.bits)]
        return words + _block_margins(chars, grams.char_pos, grams.tokens, bounds) + self._intercept

    def predict_proba(self, texts: Sequence[str], window: int | None = None) -> np.ndarray:
        """Probability of the positive class for each text (its highest window)."""
        margins = [float(self.window_margins(text, window).max()) for text in texts]
        return np.asarray(expit(np.asarray(margins, dtype=float)), dtype=float)


def fitted(corpus: str) -> TextClassifier:
    """The linear classifier for a packaged corpus, fitted once per process (thread-safe)."""
    with _LOCK:
        model = _FITTED.get(corpus)
        if model is None:
            texts, labels = load_corpus(corpus)
            model = TextClassifier().fit(texts, labels)
            _FITTED[corpus] = model
        return model


class ClassifierDetector(Detector):
    """A detector that scores texts with a probability model: HIT when the probability of
    the property reaches `threshold`, CLEAN below it, UNSCORABLE for empty text or when the
    model cannot be used. With `window` set, long texts are scored window by window and the
    highest probability counts (a planted instruction in a long document is still seen)."""

    window: ClassVar[int | None] = None
    property_name: ClassVar[str]

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def prepare(self) -> None:
        """Check the threshold and make the model ready (fit or load once per process)."""
        if not 0.0 < self.threshold < 1.0:
            raise UsageError(f"{self.name}: threshold must be in (0, 1), got {self.threshold}")
        self._ready()

    @abstractmethod
    def _ready(self) -> str | None:
        """Make the model ready; None when usable, else the one-line reason it is not."""

    @abstractmethod
    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of the property for each non-empty text (the model is ready)."""

    def detect(self, item: DetectInput) -> Verdict:
        """Judge one text."""
        return self.detect_many([item])[0]

    def detect_many(self, items: Sequence[DetectInput]) -> list[Verdict]:
        """Judge many texts in one batch; empty ones and an unusable model are unscorable."""
        problem = self._ready()
        if problem is not None:
            return [self.unscorable(problem) for _ in items]
        scorable = [i for i, item in enumerate(items) if item.text.strip()]
        probs = dict(
            zip(scorable, self._probabilities([items[i].text for i in scorable]), strict=True)
        )
        return [
            self._verdict(probs[i]) if i in probs else self.unscorable("empty text")
            for i in range(len(items))
        ]

    def _verdict(self, p: float) -> Verdict:
        """HIT or CLEAN from one probability, with the comparison as the reason."""
        state = VerdictState.HIT if p >= self.threshold else VerdictState.CLEAN
        relation = ">=" if state is VerdictState.HIT else "<"
        reason = f"{self.property_name} probability {p:.2f} {relation} {self.threshold:.2f}"
        return self.verdict(state, reason, float(p))


class LinearDetector(ClassifierDetector):
    """A ClassifierDetector on the packaged corpus's linear TextClassifier (`window` counts
    tokens)."""

    corpus: ClassVar[str]

    def _ready(self) -> str | None:
        """Fit (once per process) the corpus classifier; always usable."""
        fitted(self.corpus)
        return None

    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Linear-model probabilities (highest window)."""
        return fitted(self.corpus).predict_proba(texts, self.window)
