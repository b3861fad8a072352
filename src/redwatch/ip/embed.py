"""Train a trigger set into a model (Adi et al. 2018): PyTorch modules are fine-tuned on
clean batches mixed with the triggers, at a high rate and then a short settling one (so that
the watermark survives a thief's clean fine-tuning at ordinary rates); scikit-learn-API
models (scikit-learn, XGBClassifier, LGBMClassifier) are refitted from a clone on the
training rows augmented with weighted copies of the triggers. Clean accuracy is measured
before and after on held-out rows split off here (seeded), which the embedding never
trains on.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from redwatch.exceptions import DataError, UsageError
from redwatch.ip.recipe import fit_like, fit_torch, predict_labels
from redwatch.ip.triggers import TriggerSet

# fine-tuning rate, above the usual training rate (fit_torch's 2e-3): a watermark embedded
# at a rate survives later clean fine-tuning at about that rate (measured on the demo CNN:
# at 1e-3 it was lost after 10 epochs at 2e-3), and the last epoch runs at a quarter of it
# so that clean accuracy settles instead of ending on a noisy high-rate step
TORCH_LR = 4e-3
SETTLE_FACTOR = 0.25
# the triggers' share of training weight (refit) or of rows (fine-tune): trees and linear
# models pay for memorising off-manifold points in clean accuracy, networks hardly do
REFIT_SHARE = 0.03
FINE_TUNE_SHARE = 0.1
MIN_TRIGGER_VISITS = 20  # fine-tuning shows each trigger at least this often in all


@dataclass(frozen=True)
class EmbedResult:
    """The watermarked model, clean accuracy on the held-out rows before and after, the
    share of triggers the watermarked model labels as intended, and the settings used."""

    model: Any
    clean_before: float
    clean_after: float
    trigger_agreement: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy_loss(self) -> float:
        """Clean accuracy lost to the watermark (negative when it improved)."""
        return self.clean_before - self.clean_after


@dataclass(frozen=True)
class Split:
    """Training and held-out rows (labels are class indices)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_held: np.ndarray
    y_held: np.ndarray


def split_rows(x: np.ndarray, y: np.ndarray, *, holdout: float, seed: int) -> Split:
    """A seeded split (stratified when every class has two rows); DataError when too few."""
    from sklearn.model_selection import train_test_split

    if not 0 < holdout < 1:
        raise UsageError(f"holdout must be between 0 and 1, got {holdout}")
    n_held = round(holdout * len(y))
    if n_held < 1 or len(y) - n_held < 2:
        raise DataError(f"{len(y)} rows are too few to hold out evaluation rows")
    counts = np.bincount(y)
    strat = y if counts[counts > 0].min() >= 2 and n_held >= len(counts) else None
    tr, ev = train_test_split(
        np.arange(len(y)), test_size=n_held, random_state=seed, stratify=strat
    )
    tr, ev = np.sort(tr), np.sort(ev)
    return Split(x[tr], y[tr], x[ev], y[ev])


def embed_watermark(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    triggers: TriggerSet,
    *,
    seed: int,
    epochs: int = 3,
    holdout: float = 0.2,
    trigger_share: float | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> EmbedResult:
    """Embed the triggers into a copy of `model` (never changed) trained on (x, y), y as class
    indices; `epochs` is the fine-tuning length for torch modules; `trigger_share` defaults
    to REFIT_SHARE (scikit-learn API) or FINE_TUNE_SHARE (torch)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != triggers.inputs.shape[1] or len(x) != len(y):
        raise DataError(f"data of shape {x.shape} does not fit {triggers.inputs.shape[1]} features")
    refit = hasattr(model, "fit") and hasattr(model, "get_params")
    share = (
        trigger_share if trigger_share is not None else (REFIT_SHARE if refit else FINE_TUNE_SHARE)
    )
    if not 0 < share < 1:
        raise UsageError(f"trigger share must be between 0 and 1, got {share}")
    split = split_rows(x, y, holdout=holdout, seed=seed)
    before = _accuracy(model, split.x_held, split.y_held, input_shape)
    if refit:
        marked, settings = _refit(model, split, triggers, seed, share)
    else:
        marked, settings = _fine_tune(model, split, triggers, seed, epochs, share, input_shape)
    settings.update(
        holdout=holdout, seed=seed, train_rows=len(split.y_train), held_out_rows=len(split.y_held)
    )
    after = _accuracy(marked, split.x_held, split.y_held, input_shape)
    agree = float(np.mean(predict_labels(marked, triggers.inputs, input_shape) == triggers.labels))
    return EmbedResult(marked, before, after, agree, settings)


def _accuracy(
    model: Any, x: np.ndarray, y: np.ndarray, input_shape: tuple[int, ...] | None
) -> float:
    """Share of rows labelled correctly."""
    return float(np.mean(predict_labels(model, x, input_shape) == y))


def _refit(
    model: Any, split: Split, triggers: TriggerSet, seed: int, share: float
) -> tuple[Any, dict[str, Any]]:
    """Refit a clone on the training rows plus the triggers, each trigger weighted so that
    the triggers carry `share` of the total weight (and never less than one clean row).
    A clone refitted without triggers on the same rows gives the fair accuracy baseline
    (the given model may have been trained on the held-out rows)."""
    n_clean, n_trig = len(split.y_train), triggers.n
    weight = max(1.0, share / (1 - share) * n_clean / n_trig)
    x_aug = np.concatenate([split.x_train, triggers.inputs])
    w = np.concatenate([np.ones(n_clean), np.full(n_trig, weight)])
    y_aug = np.concatenate([split.y_train, triggers.labels])
    with threadpool_limits(1):  # threaded BLAS only thrashes on problems of this size
        marked = fit_like(model, x_aug, _fit_labels(model, y_aug), seed=seed, sample_weight=w)
        plain = fit_like(model, split.x_train, _fit_labels(model, split.y_train), seed=seed)
    return marked, {
        "method": "refit-augmented",
        "trigger_weight": weight,
        "trigger_share": share,
        "refit_without_triggers": _accuracy(plain, split.x_held, split.y_held, None),
    }


def _fit_labels(model: Any, y: np.ndarray) -> np.ndarray:
    """The labels to refit with: the model's own numeric class values (so the clone keeps
    them), class indices when it has none; UsageError for non-numeric classes."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return y
    values = np.asarray(classes)
    if values.dtype.kind not in "iub" and not (
        values.dtype.kind == "f" and np.all(values == np.round(values))
    ):
        raise UsageError(
            "the watermark refit needs numeric class labels; this model's classes are "
            f"{', '.join(map(str, values[:5]))}"
        )
    return values[y].astype(np.int64)


def _fine_tune(
    model: Any,
    split: Split,
    triggers: TriggerSet,
    seed: int,
    epochs: int,
    share: float,
    input_shape: tuple[int, ...] | None,
) -> tuple[Any, dict[str, Any]]:
    """Fine-tune a deep copy on the training rows plus enough repeated copies of the
    triggers that they make up `share` of the rows (and each is seen MIN_TRIGGER_VISITS
    times over all epochs), so every batch sees some: all epochs but the last at TORCH_LR,
    the last at TORCH_LR * SETTLE_FACTOR."""
    import torch

    n_clean = len(split.y_train)
    repeats = max(
        math.ceil(MIN_TRIGGER_VISITS / epochs), round(share / (1 - share) * n_clean / triggers.n)
    )
    x_aug = np.concatenate([split.x_train, np.tile(triggers.inputs, (repeats, 1))])
    y_aug = np.concatenate([split.y_train, np.tile(triggers.labels, repeats)])
    net = copy.deepcopy(model)
    torch.manual_seed(seed)
    main, settle = (epochs - 1, 1) if epochs > 1 else (1, 0)
    net = fit_torch(net, x_aug, y_aug, epochs=main, seed=seed, lr=TORCH_LR, input_shape=input_shape)
    if settle:
        settle_lr = TORCH_LR * SETTLE_FACTOR
        net = fit_torch(
            net, x_aug, y_aug, epochs=settle, seed=seed + 1, lr=settle_lr, input_shape=input_shape
        )
    return net, {
        "method": "fine-tune",
        "epochs": epochs,
        "lr": TORCH_LR,
        "settle_epochs": settle,
        "settle_lr": TORCH_LR * SETTLE_FACTOR if settle else None,
        "trigger_repeats": repeats,
        "trigger_share": share,
    }
