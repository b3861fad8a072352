"""Backdoor detection on learned representations, per class, without knowing the poison rate.

Rows of one label are embedded (penultimate layer of the user's torch model, or of a small
network redwatch trains on the data), projected on their top principal directions and scored:
`que` (Spectre-style, Hayase et al. 2021: robust covariance by minimum covariance determinant,
whitening, quantum-entropy score) or `spectral` (Tran et al. 2018: squared projection on the top
singular vector, centred robustly). A two-component mixture on the log scores tells how far a
suspicious cluster stands apart; a class is flagged only when that separation is an outlier
among the classes and above an absolute floor, so clean classes get no flags."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.linalg import expm
from sklearn.covariance import MinCovDet
from sklearn.mixture import GaussianMixture

from redwatch.data.flags import DetectorReport, RowFlag
from redwatch.exceptions import DataError, UsageError

SCORES = ("que", "spectral")
MIN_CLASS_ROWS = 20


@dataclass(frozen=True)
class ClassSplit:
    """One class's scores and its two-component split: how far apart (Ashman's D), the
    upper component's weight and which rows fall in it."""

    label: int
    rows: np.ndarray
    scores: np.ndarray
    separation: float
    weight: float
    upper: np.ndarray
    z: np.ndarray
    refined_separation: float = 0.0


def detect_backdoor(
    x: np.ndarray,
    y: np.ndarray,
    *,
    image_shape: tuple[int, ...] | None = None,
    model: Any = None,
    seed: int = 0,
    score: str = "que",
    epochs: int = 4,
    components: int = 16,
    alpha: float = 4.0,
    min_separation: float = 4.5,
) -> DetectorReport:
    """Flag rows that form a separate cluster inside their class in learned representations
    (a backdoor trigger's signature). y are class indices 0..K-1; `model` is an optional torch
    module whose last nn.Linear input is the representation."""
    x, y = _checked(x, y, image_shape, score, components, min_separation)
    reps, source = representations(
        x, y, image_shape=image_shape, model=model, seed=seed, epochs=epochs
    )
    return scan_representations(
        reps,
        y,
        source,
        score=score,
        components=components,
        alpha=alpha,
        min_separation=min_separation,
        seed=seed,
    )


def scan_representations(
    reps: np.ndarray,
    y: np.ndarray,
    source: str,
    *,
    score: str = "que",
    components: int = 16,
    alpha: float = 4.0,
    min_separation: float = 4.5,
    seed: int = 0,
) -> DetectorReport:
    """The per-class split, the cutoff among classes and the refinement of suspicious
    classes, on representations already computed (`source` says where they came from)."""
    splits = [
        class_split(
            reps[rows], rows, label, score=score, components=components, alpha=alpha, seed=seed
        )
        for label, rows in _class_rows(y)
    ]
    splits = [refine_split(reps[s.rows], s, components, seed) for s in splits]
    cutoff = separation_cutoff([s.separation for s in splits], min_separation)
    refined_cutoff = separation_cutoff([s.refined_separation for s in splits], min_separation)
    suspicious = [
        s
        for s in splits
        if s.separation >= min_separation
        and (s.separation >= cutoff or s.refined_separation >= refined_cutoff)
        and s.weight <= 0.6
        and s.upper.mean() <= 0.6
    ]
    flags = [flag for s in suspicious for flag in _flags(s, score)]
    metrics = _metrics(splits, suspicious, (cutoff, refined_cutoff), score, source, len(y))
    return DetectorReport("backdoor", tuple(sorted(flags, key=lambda f: f.row)), metrics)


def _checked(
    x: np.ndarray,
    y: np.ndarray,
    image_shape: tuple[int, ...] | None,
    score: str,
    components: int,
    min_separation: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Validated float features and integer labels; one-line errors otherwise."""
    if score not in SCORES:
        raise UsageError(f"unknown backdoor score {score!r}; choose one of {', '.join(SCORES)}")
    if components < 1 or min_separation <= 0:
        raise UsageError("components and min_separation must be positive")
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y)
    if xa.ndim != 2 or ya.ndim != 1 or len(xa) != len(ya):
        raise DataError(f"need features (n, d) and labels (n,), got {xa.shape} and {ya.shape}")
    if not np.isfinite(xa).all():
        raise DataError("the features contain NaN or infinite values")
    if ya.dtype.kind not in "iu" or (len(ya) and ya.min() < 0):
        raise DataError("labels must be class indices 0..K-1")
    if image_shape is not None and int(np.prod(image_shape)) != xa.shape[1]:
        raise DataError(f"image shape {tuple(image_shape)} does not hold {xa.shape[1]} features")
    if len(np.unique(ya)) < 2:
        raise DataError("the backdoor detector needs at least two classes")
    return xa, ya.astype(np.int64)


def representations(
    x: np.ndarray,
    y: np.ndarray,
    *,
    image_shape: tuple[int, ...] | None,
    model: Any,
    seed: int,
    epochs: int,
) -> tuple[np.ndarray, str]:
    """Penultimate activations of the user's model, or of a network trained here; and where
    they came from. torch is imported here so that callers without images need not have it."""
    from redwatch.data import representations as rep

    if model is not None:  # the user's model sees the rows as its training data held them
        raw = np.asarray(x, dtype=np.float32)
        return rep.penultimate(model, raw, input_shape=image_shape), "user model"
    inputs = rep.scaled_inputs(x, image_shape)
    net = rep.train_own_net(inputs, y, image_shape=image_shape, seed=seed, epochs=epochs)
    return rep.penultimate(net, inputs), "own CNN" if image_shape is not None else "own MLP"


def _class_rows(y: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Row indices of every class large enough to estimate a covariance on."""
    groups = [(int(c), np.flatnonzero(y == c)) for c in np.unique(y)]
    return [(c, rows) for c, rows in groups if len(rows) >= MIN_CLASS_ROWS]


def class_split(
    reps: np.ndarray,
    rows: np.ndarray,
    label: int,
    *,
    score: str,
    components: int,
    alpha: float,
    seed: int,
) -> ClassSplit:
    """Score one class's rows and split the log scores into two Gaussian components."""
    z = top_directions(reps, min(components, max(1, len(reps) // 5)))
    location, covariance = robust_moments(z, seed)
    if score == "que":
        values = que_scores(whiten(z, location, covariance), alpha)
    else:
        values = spectral_scores(z, location)
    separation, weight, upper, zs = two_component_split(values, seed)
    return ClassSplit(label, rows, values, separation, weight, upper, zs)


def refine_split(reps: np.ndarray, split: ClassSplit, components: int, seed: int) -> ClassSplit:
    """Re-split a suspicious class along the direction that best separates its two groups
    (Fisher's discriminant, twice). When poison is a large share of the class it pulls the
    robust statistics toward itself and the score split misses its clean-looking edge; the
    discriminant direction of the first split recovers it. Kept only while the flagged group
    stays the minority."""
    z = top_directions(reps, min(components, max(1, len(reps) // 5)))
    upper, scores, separation = split.upper, split.z, 0.0
    for _ in range(2):
        if upper.sum() < 2 or (~upper).sum() < 2:
            break
        projection = z @ discriminant(z[upper], z[~upper])
        found = two_component_split(projection, seed, log=False)
        if found[1] > 0.6 or not found[2].any():
            break
        separation, _, upper, scores = found
    return replace(split, upper=upper, z=np.maximum(scores, 0.0), refined_separation=separation)


def discriminant(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fisher's direction from group b to group a: pooled within-group covariance (with a
    small ridge) solved against the difference of the means."""
    pooled = np.cov(a, rowvar=False) * (len(a) - 1) + np.cov(b, rowvar=False) * (len(b) - 1)
    pooled = np.atleast_2d(pooled) / max(len(a) + len(b) - 2, 1)
    ridge = 1e-6 * max(float(np.trace(pooled)) / len(pooled), 1e-12)
    return np.asarray(
        np.linalg.solve(pooled + ridge * np.eye(len(pooled)), a.mean(axis=0) - b.mean(axis=0))
    )


def top_directions(reps: np.ndarray, k: int) -> np.ndarray:
    """Rows centred and projected on their top-k right singular vectors."""
    centred = reps - reps.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return np.asarray(centred @ vt[:k].T)


def robust_moments(z: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-covariance-determinant location and covariance (robust to a minority cluster),
    with a small ridge so that whitening never divides by zero."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mcd = MinCovDet(random_state=seed).fit(z)
    covariance = np.asarray(mcd.covariance_)
    ridge = 1e-6 * max(float(np.trace(covariance)) / len(covariance), 1e-12)
    return np.asarray(mcd.location_), covariance + ridge * np.eye(len(covariance))


def whiten(z: np.ndarray, location: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Rows in coordinates where the robust covariance is the identity."""
    root = np.linalg.cholesky(np.linalg.inv(covariance))
    return np.asarray((z - location) @ root)


def que_scores(h: np.ndarray, alpha: float) -> np.ndarray:
    """Quantum-entropy outlier scores of whitened rows: h_i' Q h_i / tr Q with
    Q = exp(alpha (S - I) / (||S|| - 1)), S the whitened covariance."""
    k = h.shape[1]
    cov = np.atleast_2d(np.cov(h, rowvar=False))
    norm = max(float(np.linalg.norm(cov, 2)) - 1.0, 1e-6)
    q = expm(alpha * (cov - np.eye(k)) / norm)
    return np.asarray(np.einsum("ij,jk,ik->i", h, q, h) / np.trace(q))


def spectral_scores(z: np.ndarray, location: np.ndarray) -> np.ndarray:
    """Squared projections on the top singular vector after centring at the robust location."""
    centred = z - location
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return np.asarray((centred @ vt[0]) ** 2)


def two_component_split(
    scores: np.ndarray, seed: int, *, log: bool = True
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Fit two Gaussians to the (log) scores: Ashman's D between them, the upper component's
    weight, the rows it claims, and each row's distance from the lower component in its SDs."""
    values = np.log(np.maximum(scores, 1e-12)) if log else np.asarray(scores, dtype=np.float64)
    logs = values.reshape(-1, 1)
    if float(np.ptp(logs)) == 0.0:
        return 0.0, 0.0, np.zeros(len(scores), dtype=bool), np.zeros(len(scores))
    mixture = GaussianMixture(2, n_init=3, random_state=seed).fit(logs)
    means = mixture.means_.ravel()
    sds = np.sqrt(mixture.covariances_.ravel())
    hi, lo = int(np.argmax(means)), int(np.argmin(means))
    separation = float(np.sqrt(2) * (means[hi] - means[lo]) / np.hypot(sds[hi], sds[lo]))
    upper = mixture.predict_proba(logs)[:, hi] > 0.5
    z = (logs.ravel() - means[lo]) / max(float(sds[lo]), 1e-12)
    return separation, float(mixture.weights_[hi]), upper, z


def separation_cutoff(separations: list[float], floor: float) -> float:
    """The separation a class must reach: above the floor and, with five or more classes,
    an outlier among them (median + 3 robust SDs)."""
    if len(separations) < 5:
        return floor
    values = np.asarray(separations)
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    return max(floor, median + 3.0 * spread)


def _flags(split: ClassSplit, score: str) -> list[RowFlag]:
    """One flag per row of the upper component of a suspicious class."""
    return [
        RowFlag(
            int(split.rows[i]),
            float(split.z[i]),
            (
                f"backdoor: class {split.label} holds a separate cluster in learned "
                f"representations ({score} score {split.scores[i]:.3g}, clusters "
                f"{split.separation:.1f} SDs apart)",
            ),
        )
        for i in np.flatnonzero(split.upper)
    ]


def _metrics(
    splits: list[ClassSplit],
    suspicious: list[ClassSplit],
    cutoffs: tuple[float, float],
    score: str,
    source: str,
    n_rows: int,
) -> dict[str, Any]:
    """Plain-JSON figures: the method, the cutoff and every class's separation."""
    flagged = {s.label for s in suspicious}
    return {
        "score": score,
        "representation": source,
        "rows": n_rows,
        "separation_cutoff": round(cutoffs[0], 3),
        "refined_separation_cutoff": round(cutoffs[1], 3),
        "suspicious_classes": sorted(flagged),
        "flagged": sum(int(s.upper.sum()) for s in suspicious),
        "per_class": {
            str(s.label): {
                "rows": len(s.rows),
                "separation": round(s.separation, 3),
                "refined_separation": round(s.refined_separation, 3),
                "upper_weight": round(s.weight, 3),
                "flagged": int(s.upper.sum()) if s.label in flagged else 0,
            }
            for s in splits
        },
    }
