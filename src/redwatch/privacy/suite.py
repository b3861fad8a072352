"""Every score-based membership attack at once, from one set of shadow models: the
threshold attack, LiRA offline and online, RMIA offline (tuned scaling) and online.

Also the same attacks on rounded outputs, to measure what the guard's output rounding buys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redwatch.privacy.lira import lira_offline, lira_online
from redwatch.privacy.rmia import rmia, tune_offline_a
from redwatch.privacy.shadow import TINY, ShadowSet

ATTACKS = ("threshold", "lira_offline", "lira_online", "rmia_offline", "rmia_online")


@dataclass(frozen=True)
class SuiteScores:
    """Membership scores per attack on the evaluated rows, and RMIA's tuned offline `a`."""

    scores: dict[str, np.ndarray]
    rmia_a: float


def score_all(
    confidence: np.ndarray,
    logit: np.ndarray,
    shadows: ShadowSet,
    eval_rows: np.ndarray,
    z_rows: np.ndarray,
) -> SuiteScores:
    """The attacked model's true-class confidence and its logit on the population (eval
    rows and z rows), scored against the shadows by every attack."""
    ev, z = shadows.columns(eval_rows), shadows.columns(z_rows)
    t_conf, t_logit = confidence[eval_rows], logit[eval_rows]
    a = tune_offline_a(ev.confidence, ev.membership, z.confidence)
    scores = {
        "threshold": t_logit,
        "lira_offline": lira_offline(t_logit, ev.scores, ev.membership),
        "lira_online": lira_online(t_logit, ev.scores, ev.membership),
        "rmia_offline": rmia(
            t_conf, ev.confidence, ev.membership, confidence[z_rows], z.confidence, a=a
        ),
        "rmia_online": rmia(t_conf, ev.confidence, ev.membership, confidence[z_rows], z.confidence),
    }
    return SuiteScores(scores, a)


def rounded_logit(confidence: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) of a true-class confidence alone (what rounded outputs leave)."""
    p = np.asarray(confidence, dtype=np.float64)
    return np.asarray(np.log(p + TINY) - np.log(np.clip(1.0 - p, 0.0, None) + TINY))


def rounded(
    confidence: np.ndarray, shadows: ShadowSet, decimals: int
) -> tuple[np.ndarray, np.ndarray, ShadowSet]:
    """Target and shadow confidences rounded as the guard's output stage would round the
    true class's score (the attacker rounds its shadows' outputs the same way)."""
    conf = np.round(np.asarray(confidence, dtype=np.float64), decimals)
    shadow_conf = np.round(shadows.confidence, decimals)
    shadow = ShadowSet(shadows.membership, shadow_conf, rounded_logit(shadow_conf))
    return conf, rounded_logit(conf), shadow
