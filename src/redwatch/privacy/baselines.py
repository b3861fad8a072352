"""Membership attacks that need no shadow models to score: the loss threshold (Yeom et al.
2018: a training row has a lower loss) and a label-only attack (Choquette-Choo et al. 2021:
a training row keeps its predicted label under more noise).

Both return one score per row, higher meaning "member"; thresholds come from the ROC."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.privacy.shadow import TINY

LabelFn = Callable[[np.ndarray], np.ndarray]
NOISE_LEVELS = (0.05, 0.1, 0.2, 0.4, 0.8)  # in units of each feature's spread
DEFAULT_DRAWS = 6


def loss_scores(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative cross-entropy loss of each row's true class: log p_y (Yeom's threshold
    attack ranks rows by it; the confidence threshold attack gives the same ranking)."""
    p = np.asarray(proba, dtype=np.float64)
    true = p[np.arange(len(p)), np.asarray(y, dtype=np.int64)]
    return np.asarray(np.log(true + TINY), dtype=np.float64)


def feature_scale(x: np.ndarray) -> np.ndarray:
    """Per-feature spread used to size the noise: the standard deviation, or 1 for a
    constant column."""
    std = np.asarray(x, dtype=np.float64).std(axis=0)
    return np.where(std > 0, std, 1.0)


def label_only_scores(
    predict: LabelFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    scale: np.ndarray,
    rng: np.random.Generator,
    levels: tuple[float, ...] = NOISE_LEVELS,
    draws: int = DEFAULT_DRAWS,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Share of noisy copies (Gaussian noise of each level times `scale`, `draws` per
    level, clipped to `bounds`) that keep the true label; 0 for a row the model gets wrong
    unperturbed. Sends len(x) * (1 + levels * draws) rows to `predict`."""
    if draws < 1 or not levels:
        raise UsageError("the label-only attack needs at least one noise level and one draw")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    correct = np.asarray(predict(x), dtype=np.int64) == y
    kept = np.zeros(len(x))
    for level in levels:
        noisy = np.repeat(x, draws, axis=0)
        noisy += rng.normal(size=noisy.shape) * (level * np.asarray(scale))[None, :]
        if bounds is not None:
            noisy = np.clip(noisy, bounds[0], bounds[1])
        same = np.asarray(predict(noisy), dtype=np.int64) == np.repeat(y, draws)
        kept += same.reshape(len(x), draws).mean(axis=1)
    return np.asarray(np.where(correct, kept / len(levels), 0.0), dtype=np.float64)


def calibrated(target: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """A target score minus the mean score that models which never trained on the row give
    it (Watson et al. 2022's difficulty calibration); reference has shape (models, n) with
    NaN where a model trained on the row."""
    ref = np.asarray(reference, dtype=np.float64)
    seen = np.isfinite(ref)
    count = seen.sum(axis=0)
    mean = np.where(count > 0, np.where(seen, ref, 0.0).sum(axis=0) / np.maximum(count, 1), 0.0)
    return np.asarray(np.asarray(target, dtype=np.float64) - mean, dtype=np.float64)
