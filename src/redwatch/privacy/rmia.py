"""RMIA, the relative membership-inference attack (Zarifzadeh et al. 2024, "Low-Cost
High-Power Membership Inference Attacks").

For a candidate x and population samples z the attack compares
    LR(x, z) = (Pr(x | target) / Pr(x)) / (Pr(z | target) / Pr(z))
where Pr(. | model) is the probability of the true class and Pr(.) its average over
reference models; the score of x is the share of z with LR(x, z) >= gamma. With reference
models that never trained on x (offline), Pr(x) is estimated from the out-models as
0.5 * ((1 + a) * Pr_out(x) + (1 - a)); `a` is chosen by attacking one reference model with
the others (`tune_offline_a`). Online, Pr(x) averages every reference model, in and out."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from redwatch.exceptions import UsageError
from redwatch.privacy.roc import auc

DEFAULT_GAMMA = 1.0
A_GRID = tuple(round(0.1 * i, 1) for i in range(11))
TINY = 1e-30


def marginal(confidence: np.ndarray, membership: np.ndarray | None, a: float | None) -> np.ndarray:
    """Pr(x) per column of the reference models' confidences (models, n): the mean over all
    models (online, a=None), or the offline estimate from the models that did not train on
    x (membership given: True where a model trained on that row)."""
    conf = np.asarray(confidence, dtype=np.float64)
    if a is None:
        return np.asarray(conf.mean(axis=0), dtype=np.float64)
    if not 0.0 <= a <= 1.0:
        raise UsageError(f"RMIA offline scaling a must be in [0, 1], got {a}")
    out = np.ones_like(conf, dtype=bool) if membership is None else ~np.asarray(membership, bool)
    count = out.sum(axis=0)
    pr_out = np.where(count > 0, np.where(out, conf, 0.0).sum(axis=0) / np.maximum(count, 1), 0.0)
    pr_out = np.where(count > 0, pr_out, conf.mean(axis=0))
    return np.asarray(0.5 * ((1.0 + a) * pr_out + (1.0 - a)), dtype=np.float64)


def rmia_scores(
    target_x: np.ndarray,
    marginal_x: np.ndarray,
    target_z: np.ndarray,
    marginal_z: np.ndarray,
    *,
    gamma: float = DEFAULT_GAMMA,
) -> np.ndarray:
    """Share of population samples z that x dominates (LR(x, z) >= gamma), plus a tie-break
    smaller than one step of that share, ordered by x's own ratio."""
    if len(target_z) == 0 or len(target_z) != len(marginal_z):
        raise UsageError("RMIA needs population samples z with their reference marginals")
    if gamma <= 0:
        raise UsageError(f"RMIA gamma must be positive, got {gamma}")
    ratio_x = np.log(np.asarray(target_x) + TINY) - np.log(np.asarray(marginal_x) + TINY)
    ratio_z = np.sort(np.log(np.asarray(target_z) + TINY) - np.log(np.asarray(marginal_z) + TINY))
    share = np.searchsorted(ratio_z, ratio_x - np.log(gamma), side="right") / len(ratio_z)
    tie = rankdata(ratio_x) / (len(ratio_x) + 1) / (len(ratio_z) + 1)
    return np.asarray(share + tie, dtype=np.float64)


def rmia(
    target_x: np.ndarray,
    refs_x: np.ndarray,
    membership_x: np.ndarray | None,
    target_z: np.ndarray,
    refs_z: np.ndarray,
    *,
    a: float | None = None,
    gamma: float = DEFAULT_GAMMA,
) -> np.ndarray:
    """RMIA scores for candidates x: target confidences (n,), reference confidences
    (models, n) with their membership, and the same for population samples z (Pr(z)
    averages every reference model). `a` None: online; else offline with that scaling."""
    px = marginal(refs_x, membership_x, a)
    pz = marginal(refs_z, None, None)
    return rmia_scores(target_x, px, target_z, pz, gamma=gamma)


def tune_offline_a(
    refs_x: np.ndarray,
    membership_x: np.ndarray,
    refs_z: np.ndarray,
    *,
    grid: tuple[float, ...] = A_GRID,
) -> float:
    """The offline scaling `a` that gives the best AUC when reference model 0 plays the
    target and the remaining models are the references (no extra training)."""
    conf, inside = np.asarray(refs_x), np.asarray(membership_x, dtype=bool)
    if conf.shape[0] < 2:
        raise UsageError("tuning RMIA's offline scaling needs at least two reference models")
    members, others = inside[0], inside[1:]
    if members.all() or not members.any():
        return 0.5
    best, best_auc = grid[0], -1.0
    for a in grid:
        s = rmia(conf[0], conf[1:], others, np.asarray(refs_z)[0], np.asarray(refs_z)[1:], a=a)
        value = auc(s[members], s[~members])
        if value > best_auc + 1e-12:
            best, best_auc = a, value
    return float(best)
