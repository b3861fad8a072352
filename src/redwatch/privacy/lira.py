"""LiRA, the likelihood-ratio membership attack (Carlini et al. 2022, "Membership Inference
Attacks From First Principles").

Per example, the shadow models' logit-scaled confidences are fitted with a Gaussian for the
models that trained on it (in) and one for those that did not (out).
- online: log N(t; in) - log N(t; out), the likelihood ratio of the target's score t;
- offline: out only, one-sided: -log P(out score >= t), i.e. how far above the non-member
  distribution the target's score lies.
With few shadows a per-example variance is noisy; the paper then uses one variance for all
examples, which this module does by default below MIN_PER_EXAMPLE models per side (pooled
within-example variance)."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from redwatch.exceptions import UsageError

MIN_PER_EXAMPLE = 16  # models per side below which the variance is pooled over examples
STD_FLOOR = 1e-3


def _side(
    scores: np.ndarray, mask: np.ndarray, per_example: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, std, count) per example over the models selected by mask. An example with no
    model on this side gets NaN mean; the std is per example or pooled."""
    count = mask.sum(axis=0)
    total = np.where(mask, scores, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    resid = np.where(mask, scores - np.nan_to_num(mean)[None, :], 0.0) ** 2
    if per_example:
        std = np.sqrt(resid.sum(axis=0) / np.maximum(count - 1, 1))
    else:
        dof = max(int(count.sum()) - int((count > 0).sum()), 1)
        std = np.full(scores.shape[1], np.sqrt(resid.sum() / dof))
    return mean, np.maximum(std, STD_FLOOR), count


def _check(target: np.ndarray, scores: np.ndarray, membership: np.ndarray) -> None:
    """Shapes line up: target (n,), shadow scores and membership (M, n)."""
    if scores.ndim != 2 or scores.shape != membership.shape or scores.shape[1] != len(target):
        raise UsageError(
            f"LiRA needs shadow scores and membership of shape (models, {len(target)}), got "
            f"{scores.shape} and {membership.shape}"
        )


def _per_example(membership: np.ndarray, global_variance: bool | None) -> bool:
    """Per-example variance unless asked otherwise or too few models on either side."""
    if global_variance is not None:
        return not global_variance
    sides = (membership.sum(axis=0).min(), (~membership).sum(axis=0).min())
    return bool(min(sides) >= MIN_PER_EXAMPLE)


def _fill(mean: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Replace missing per-example means (no model on that side) by a fallback."""
    return np.where(np.isnan(mean), fallback, mean)


def lira_offline(
    target: np.ndarray,
    scores: np.ndarray,
    membership: np.ndarray,
    *,
    global_variance: bool | None = None,
) -> np.ndarray:
    """Offline LiRA: -log of the one-sided p-value of the target's score under the
    example's out-Gaussian (higher: more likely a member)."""
    t = np.asarray(target, dtype=np.float64)
    mask = ~np.asarray(membership, dtype=bool)
    _check(t, scores, mask)
    mean, std, _ = _side(scores, mask, _per_example(membership, global_variance))
    mean = _fill(mean, np.full_like(t, np.nanmean(mean) if np.isfinite(mean).any() else 0.0))
    return np.asarray(-norm.logsf(t, loc=mean, scale=std), dtype=np.float64)


def lira_online(
    target: np.ndarray,
    scores: np.ndarray,
    membership: np.ndarray,
    *,
    global_variance: bool | None = None,
) -> np.ndarray:
    """Online LiRA: log-likelihood ratio of the target's score under the example's
    in-Gaussian against its out-Gaussian. A missing side borrows the other side's mean
    shifted by the average in-out gap."""
    t = np.asarray(target, dtype=np.float64)
    inside = np.asarray(membership, dtype=bool)
    _check(t, scores, inside)
    per_example = _per_example(inside, global_variance)
    mu_in, sd_in, _ = _side(scores, inside, per_example)
    mu_out, sd_out, _ = _side(scores, ~inside, per_example)
    both = ~(np.isnan(mu_in) | np.isnan(mu_out))
    gap = float(np.mean(mu_in[both] - mu_out[both])) if both.any() else 0.0
    mu_in = _fill(mu_in, mu_out + gap)
    mu_out = _fill(mu_out, mu_in - gap)
    mu_in, mu_out = np.nan_to_num(mu_in), np.nan_to_num(mu_out)
    ratio = norm.logpdf(t, mu_in, sd_in) - norm.logpdf(t, mu_out, sd_out)
    return np.asarray(ratio, dtype=np.float64)
