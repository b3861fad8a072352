"""Attribute inference: how well an attacker predicts a sensitive attribute of a row from
the row's other features, with the model's output (the attack) and without it (the
baseline). The difference is what the model's output adds: its privacy leak.

Pure algorithms on arrays: attribute encoding, cross-validated attackers, Fredrikson et al.
(2014)'s substitution attack, and accuracy / balanced accuracy / AUC with paired bootstrap
intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from redwatch.exceptions import ProbeError
from redwatch.privacy.roc import BOOTSTRAP, CONFIDENCE

MAX_CATEGORIES = 10
DEFAULT_BINS = 4
FOLDS = 5
METRICS = ("accuracy", "balanced_accuracy", "auc")
ProbaFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EncodedAttribute:
    """Attribute values as class codes 0..C-1 (-1: missing), the name of each code, and for
    numeric attributes the value that stands for each code (bins: the bin's median)."""

    codes: np.ndarray
    labels: tuple[str, ...]
    representatives: np.ndarray | None
    binned: bool

    @property
    def n_classes(self) -> int:
        """How many attribute values (or bins) the attacker tells apart."""
        return len(self.labels)


def _missing(values: np.ndarray) -> np.ndarray:
    """True where a raw value is missing: None, NaN or an empty string."""
    out = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        blank = isinstance(v, str) and not v.strip()
        nan = isinstance(v, float | np.floating) and not np.isfinite(v)
        out[i] = v is None or blank or nan
    return out


def encode_attribute(
    values: np.ndarray, *, bins: int = DEFAULT_BINS, max_categories: int = MAX_CATEGORIES
) -> EncodedAttribute:
    """Codes for raw attribute values: text and numbers with at most `max_categories`
    distinct values are categories; other numbers fall into `bins` quantile bins."""
    raw = np.asarray(values, dtype=object).ravel()
    missing = _missing(raw)
    present = raw[~missing]
    if len(present) == 0:
        raise ProbeError("the sensitive attribute has no values")
    numeric = _as_numeric(present)
    codes = np.full(len(raw), -1, dtype=np.int64)
    if numeric is not None and len(np.unique(numeric)) > max_categories:
        return _binned(numeric, missing, codes, bins)
    keys = numeric if numeric is not None else np.array([str(v) for v in present])
    uniques, inverse = np.unique(keys, return_inverse=True)
    codes[~missing] = inverse
    candidates = None if numeric is None else np.asarray(uniques, dtype=np.float64)
    return EncodedAttribute(codes, tuple(_fmt(u) for u in uniques), candidates, False)


def _binned(
    numeric: np.ndarray, missing: np.ndarray, codes: np.ndarray, bins: int
) -> EncodedAttribute:
    """Quantile bins of a numeric attribute; each bin stands for its median value."""
    if bins < 2:
        raise ProbeError(f"bins must be at least 2, got {bins}")
    edges = np.unique(np.quantile(numeric, np.linspace(0, 1, bins + 1))[1:-1])
    inner = np.searchsorted(edges, numeric, side="right")
    codes[~missing] = inner
    medians = np.array([np.median(numeric[inner == k]) for k in range(len(edges) + 1)])
    labels = tuple(_bin_label(edges, k) for k in range(len(edges) + 1))
    return EncodedAttribute(codes, labels, medians, True)


def _as_numeric(values: np.ndarray) -> np.ndarray | None:
    """The values as floats, or None when any of them is not a number."""
    try:
        out = np.asarray([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out).all() else None


def _fmt(value: Any) -> str:
    """A category's name: whole numbers without a decimal point."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _bin_label(edges: np.ndarray, k: int) -> str:
    """Readable range of quantile bin k."""
    low = "-inf" if k == 0 else f"{edges[k - 1]:.4g}"
    high = "inf" if k == len(edges) else f"{edges[k]:.4g}"
    return f"[{low}, {high})"


def attacker_proba(
    features: np.ndarray, codes: np.ndarray, n_classes: int, *, folds: int, seed: int
) -> np.ndarray:
    """Out-of-fold attribute probabilities (n, C) of a gradient-boosted attacker trained on
    `features` with seeded stratified folds; with no features, the training folds' prior."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if features.shape[1] == 0:
        out = np.zeros((len(codes), n_classes))
        for train, test in splitter.split(np.zeros(len(codes)), codes):
            out[test] = np.bincount(codes[train], minlength=n_classes) / len(train)
        return out
    model = HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.15, max_leaf_nodes=15, random_state=seed
    )
    with threadpool_limits(1):
        proba = cross_val_predict(model, features, codes, cv=splitter, method="predict_proba")
    return np.asarray(proba, dtype=np.float64)


def fredrikson_proba(
    proba_fn: ProbaFn,
    x: np.ndarray,
    y: np.ndarray,
    column: int,
    candidates: np.ndarray,
    prior: np.ndarray,
) -> np.ndarray:
    """Fredrikson et al. (2014): substitute each candidate value in `column`, query the
    model, and weigh the probability it gives the known label by the candidate's prior;
    normalised per row. Costs len(x) x len(candidates) queries."""
    scores = np.empty((len(x), len(candidates)))
    rows = np.arange(len(x))
    for j, value in enumerate(candidates):
        trial = np.array(x, dtype=np.float64, copy=True)
        trial[:, column] = value
        scores[:, j] = prior[j] * np.asarray(proba_fn(trial))[rows, y]
    total = scores.sum(axis=1, keepdims=True)
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), prior[None, :])


class Scorer:
    """Accuracy, balanced accuracy and AUC (binary; macro one-vs-rest for more classes) of
    one attacker's probabilities, for any row weights: bootstrap resamples are weights, so
    the scores are ranked once and every resample costs O(rows)."""

    def __init__(self, proba: np.ndarray, codes: np.ndarray) -> None:
        """Store the attacker's probabilities (n, C) and the true codes."""
        self.proba = proba
        self.codes = codes

    def prepare(self) -> Scorer:
        """Rank each class's scores once (ties share a rank) and mark the correct guesses."""
        self._hit = (self.proba.argmax(axis=1) == self.codes).astype(np.float64)
        self._present = np.unique(self.codes)
        cols = [1] if self.proba.shape[1] == 2 else list(self._present)
        self._classes = [(c, np.unique(self.proba[:, c], return_inverse=True)[1]) for c in cols]
        return self

    def values(self, weights: np.ndarray | None = None) -> np.ndarray:
        """[accuracy, balanced accuracy, AUC] with the rows weighted (None: all 1)."""
        w = np.ones(len(self.codes)) if weights is None else weights
        accuracy = float(np.sum(w * self._hit) / np.sum(w))
        recalls = []
        for c in self._present:
            wc = w * (self.codes == c)
            if wc.sum() > 0:
                recalls.append(np.sum(wc * self._hit) / wc.sum())
        aucs = [_weighted_auc(inv, self.codes == c, w) for c, inv in self._classes]
        finite = [a for a in aucs if np.isfinite(a)]
        return np.array([accuracy, np.mean(recalls), np.mean(finite) if finite else 0.5])


def _weighted_auc(inverse: np.ndarray, positive: np.ndarray, w: np.ndarray) -> float:
    """P(positive row scores above a negative one), ties 1/2, rows weighted; NaN when one
    side has no weight. `inverse` is each row's rank among the distinct scores."""
    size = int(inverse.max()) + 1
    pos = np.bincount(inverse, weights=w * positive, minlength=size)
    neg = np.bincount(inverse, weights=w * ~positive, minlength=size)
    total = pos.sum() * neg.sum()
    if total <= 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / total)


def metric_values(proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Accuracy, balanced accuracy and AUC of an attacker on all rows (see Scorer)."""
    return Scorer(proba, codes).prepare().values()


@dataclass(frozen=True)
class Figures:
    """Each attacker's accuracy, balanced accuracy and AUC with bootstrap intervals, and
    each attacker's advantage over the baseline (paired bootstrap: same resampled rows)."""

    values: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    baseline: str

    def advantage(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, low, high) per metric of attacker `name` minus the baseline."""
        key = f"{name}-{self.baseline}"
        return self.values[key], self.low[key], self.high[key]

    def rows(self) -> list[dict[str, Any]]:
        """One table row per attacker: the metrics and their intervals."""
        out = []
        for name in self.values:
            if "-" in name:
                continue
            row: dict[str, Any] = {"attacker": name}
            for i, metric in enumerate(METRICS):
                row[metric] = float(self.values[name][i])
                row[f"{metric}_ci"] = [float(self.low[name][i]), float(self.high[name][i])]
            if name != self.baseline:
                value, low, high = self.advantage(name)
                row["advantage_auc"] = float(value[2])
                row["advantage_auc_ci"] = [float(low[2]), float(high[2])]
                row["advantage_balanced_accuracy"] = float(value[1])
            out.append(row)
        return out


def figures(
    probas: dict[str, np.ndarray],
    codes: np.ndarray,
    baseline: str,
    *,
    rounds: int = BOOTSTRAP,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> Figures:
    """Metrics of every attacker on all rows, percentile bootstrap intervals over the rows,
    and the paired intervals of each attacker's advantage over `baseline`."""
    scorers = {n: Scorer(p, codes).prepare() for n, p in probas.items()}
    values = {n: s.values() for n, s in scorers.items()}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[np.ndarray]] = {n: [] for n in probas}
    for _ in range(rounds):
        weights = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
        for name, scorer in scorers.items():
            draws[name].append(scorer.values(weights.astype(np.float64)))
    samples = {n: np.vstack(d) for n, d in draws.items()}
    for name in probas:
        if name != baseline:
            key = f"{name}-{baseline}"
            values[key] = values[name] - values[baseline]
            samples[key] = samples[name] - samples[baseline]
    tail = (1.0 - confidence) / 2.0
    low = {n: np.quantile(s, tail, axis=0) for n, s in samples.items()}
    high = {n: np.quantile(s, 1.0 - tail, axis=0) for n, s in samples.items()}
    return Figures(values, low, high, baseline)
