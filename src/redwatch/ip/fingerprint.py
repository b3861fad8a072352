"""IP fingerprints of never-watermarked models: is a suspect DERIVED from the owner's model
(copied, fine-tuned, pruned, extracted) or trained independently?

Points near the owner's decision boundary (IPGuard, Cao et al. 2021), moved a small margin
into the owner's side so that they survive small modifications, are candidates; the kept
points are those where independently trained references disagree with the owner while
derived controls agree (conferrable selection, Lukas et al. 2021). Held-out references and
controls then calibrate the decision (see fingerprint_calibrate); when the owner exposes
probabilities, they are recorded too and a second, score-based test runs on the same points
for suspects that expose probabilities. The integrity fingerprint
(redwatch.integrity.fingerprint) answers another question: is this still my model, unchanged?
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from redwatch.exceptions import DataError, UsageError
from redwatch.integrity.fingerprint_canaries import POOL_ROWS, bisect
from redwatch.ip.fingerprint_calibrate import (
    Calibration,
    Comparison,
    LabelFn,
    ScoreCheck,
    calibrate,
    decide,
    derived_controls,
    label_fn,
    proba_fn,
    score_check,
)
from redwatch.ip.recipe import independent_models, raw_model
from redwatch.ip.signed import (
    read_json,
    require_signature,
    sha256_hex,
    sign_document,
    write_text_atomic,
)
from redwatch.targets.base import Target

SCHEMA = "redwatch.ip.fingerprint/v1"
MARGINS = (0.02, 0.05, 0.1, 0.2)  # how far into the owner's side, as a share of the segment
MIN_REFERENCES = 4
SCORE_RADIUS = 0.75  # share of the closest selecting reference's distance, per point


@dataclass(frozen=True)
class FingerprintSettings:
    """How the points are chosen and the decision calibrated."""

    points: int = 100
    references: int = 10
    pool_factor: int = 5
    seed: int = 0
    steps: int = 16
    alpha: float = 1e-3
    confidence: float = 0.99
    margins: tuple[float, ...] = MARGINS
    score_radius: float = SCORE_RADIUS

    def check(self) -> None:
        """UsageError naming the first setting out of range."""
        if self.points < 10:
            raise UsageError(f"an IP fingerprint needs at least 10 points, got {self.points}")
        if self.references < MIN_REFERENCES:
            raise UsageError(
                f"--references must be at least {MIN_REFERENCES} (half choose the points, "
                f"half calibrate), got {self.references}"
            )
        if self.pool_factor < 1 or self.steps < 1 or not 0.0 < self.alpha < 1.0:
            raise UsageError("pool_factor and steps must be positive, alpha within (0, 1)")
        if not 0.0 < self.score_radius <= 1.0:
            raise UsageError(f"score_radius must be within (0, 1], got {self.score_radius}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "points": self.points,
            "references": self.references,
            "pool_factor": self.pool_factor,
            "seed": self.seed,
            "steps": self.steps,
            "margins": list(self.margins),
            "selection": "conferrable",
            "alpha": self.alpha,
            "score_radius": self.score_radius,
        }


@dataclass(frozen=True)
class IPFingerprint:
    """Fingerprint points, the owner's labels (and probabilities, when it gives them) on them,
    and the calibrated decision levels."""

    points: np.ndarray
    labels: np.ndarray
    calibration: Calibration
    model: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    scores: ScoreCheck | None = None

    @property
    def digest(self) -> str:
        """SHA-256 over the points' shape and float64 bytes and the labels."""
        pts = np.ascontiguousarray(self.points, dtype="<f8")
        head = f"{pts.shape[0]}x{pts.shape[1]}\n".encode()
        return sha256_hex(head + pts.tobytes() + np.asarray(self.labels, "<i8").tobytes())

    def to_dict(self) -> dict[str, Any]:
        """The `redwatch.ip.fingerprint/v1` document (unsigned); `scores` is optional."""
        doc = {
            "schema": SCHEMA,
            "created_at": self.created_at,
            "model": self.model,
            "settings": self.settings,
            "points_sha256": self.digest,
            "calibration": self.calibration.to_dict(),
            "labels": [int(v) for v in self.labels],
            "points": self.points.tolist(),
        }
        if self.scores is not None:
            doc["scores"] = self.scores.to_dict()
        return doc

    @classmethod
    def from_dict(cls, doc: Any, source: str = "fingerprint") -> IPFingerprint:
        """Inverse of to_dict; DataError naming the first problem."""
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise DataError(f"{source}: not an IP fingerprint (schema {found!r}, want {SCHEMA})")
        try:
            points = np.asarray(doc["points"], dtype=np.float64)
            labels = np.asarray(doc["labels"], dtype=np.int64)
            fp = cls(
                points,
                labels,
                Calibration.from_dict(doc["calibration"]),
                dict(doc["model"]),
                dict(doc.get("settings", {})),
                str(doc["created_at"]),
                None
                if doc.get("scores") is None
                else ScoreCheck.from_dict(doc["scores"], len(points)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: malformed IP fingerprint ({exc})") from None
        if points.ndim != 2 or labels.shape != (len(points),) or len(points) == 0:
            raise DataError(f"{source}: points and labels do not match")
        if not np.all(np.isfinite(points)) or doc.get("points_sha256") != fp.digest:
            raise DataError(f"{source}: points do not match their sha256 (file was modified)")
        return fp


def build_ip_fingerprint(
    target: Target,
    x: np.ndarray,
    y: np.ndarray,
    settings: FingerprintSettings,
    *,
    input_shape: tuple[int, ...] | None = None,
    description: dict[str, Any] | None = None,
) -> IPFingerprint:
    """Choose conferrable boundary points for the target and calibrate the decision.

    `y` are true class indices for x; reference models are trained on them (never on the
    owner's answers), derived controls on the owner's answers or by fine-tuning its copy.
    """
    settings.check()
    x, y = _table(x, y)
    with threadpool_limits(1):  # threaded BLAS only thrashes on models this small
        return _build(target, x, y, settings, input_shape, description)


def _build(
    target: Target,
    x: np.ndarray,
    y: np.ndarray,
    settings: FingerprintSettings,
    input_shape: tuple[int, ...] | None,
    description: dict[str, Any] | None,
) -> IPFingerprint:
    """build_ip_fingerprint's work on validated data."""
    model = raw_model(target)
    rng = np.random.default_rng(settings.seed)
    owner: LabelFn = target.predict
    refs = independent_models(
        model, x, y, n=settings.references, seed=settings.seed, input_shape=input_shape
    )
    half = settings.references // 2
    named = [(f"independent-{i + 1}", m) for i, m in enumerate(refs)]
    fns = [(name, label_fn(m, input_shape)) for name, m in named]
    made = [
        derived_controls(
            model, x, y, owner, seed=settings.seed + 1000 * role, input_shape=input_shape
        )
        for role in (1, 2)
    ]
    controls = [[(name, label_fn(m, input_shape)) for name, m in group] for group in made]
    pool = candidates(target, x, settings.points * settings.pool_factor, settings, rng)
    pool_labels = owner(pool)
    keep = conferrable(pool, pool_labels, fns[:half], controls[0], settings.points, rng)
    points, labels = pool[keep], pool_labels[keep]
    alpha = settings.alpha / 2 if target.capabilities.scores else settings.alpha
    cal = calibrate(
        points, labels, fns[half:], controls[1], alpha=alpha, confidence=settings.confidence
    )
    scores = None
    if target.capabilities.scores:
        scores = _score_check(target, points, named, half, made[1], settings, input_shape)
    return IPFingerprint(
        points=points,
        labels=labels,
        calibration=cal,
        model=_describe(target, x.shape[1], input_shape, description),
        settings=settings.to_dict(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        scores=scores,
    )


def _score_check(
    target: Target,
    points: np.ndarray,
    references: list[tuple[str, Any]],
    half: int,
    controls: list[tuple[str, Any]],
    settings: FingerprintSettings,
    input_shape: tuple[int, ...] | None,
) -> ScoreCheck:
    """The owner's probabilities on the points, radii from the selecting references, and the
    score test calibrated on the held-out references and controls (each test at alpha / 2)."""
    owner = target.predict_proba(points)
    k = owner.shape[1]
    fns = [(name, proba_fn(m, k, input_shape)) for name, m in references]
    return score_check(
        points,
        owner,
        [fn for _, fn in fns[:half]],
        fns[half:],
        [(name, proba_fn(m, k, input_shape)) for name, m in controls],
        factor=settings.score_radius,
        alpha=settings.alpha / 2,
        confidence=settings.confidence,
    )


def compare_ip_fingerprint(suspect: Target, fp: IPFingerprint) -> Comparison:
    """Query the suspect on the fingerprint points (one query each) and decide: the label
    test always, the score test too when the fingerprint and the suspect have probabilities."""
    n_features = int(fp.points.shape[1])
    if suspect.n_features is not None and suspect.n_features != n_features:
        raise DataError(
            f"suspect {suspect.name} expects {suspect.n_features} features, "
            f"the fingerprint has {n_features}"
        )
    n = len(fp.labels)
    if fp.scores is None or not suspect.capabilities.scores:
        got = suspect.predict(fp.points)
        return Comparison(decide(fp.calibration, int(np.sum(got == fp.labels)), n))
    probs = suspect.predict_proba(fp.points)
    labels = decide(fp.calibration, int(np.sum(probs.argmax(axis=1) == fp.labels)), n)
    if probs.shape != fp.scores.probabilities.shape:
        raise DataError(
            f"suspect {suspect.name} gives {probs.shape[1]} class probabilities, "
            f"the fingerprint has {fp.scores.probabilities.shape[1]}"
        )
    return Comparison(labels, decide(fp.scores.calibration, fp.scores.close(probs), n))


def candidates(
    target: Target, x: np.ndarray, n: int, settings: FingerprintSettings, rng: np.random.Generator
) -> np.ndarray:
    """n points next to the owner's boundary, each a margin (a share of its segment, cycling
    through settings.margins, at most half the way) back into the side of the row it
    started from."""
    pool = x[rng.permutation(len(x))[: min(POOL_ROWS, len(x))]]
    labels = target.predict(pool)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError("the model predicts one class on every data row: no boundary to find")
    first = rng.choice(classes, size=n)
    other = np.array([rng.choice(classes[classes != a]) for a in first])
    start = pool[[rng.choice(np.flatnonzero(labels == a)) for a in first]]
    end = pool[[rng.choice(np.flatnonzero(labels == b)) for b in other]]
    t = bisect(target, start, end, first, settings.steps)
    margin = np.resize(np.asarray(settings.margins, dtype=np.float64), n)
    t = t - np.minimum(margin, t / 2.0)  # never all the way back onto the data row
    points: np.ndarray = start + t[:, None] * (end - start)
    return points


def conferrable(
    pool: np.ndarray,
    labels: np.ndarray,
    references: list[tuple[str, LabelFn]],
    controls: list[tuple[str, LabelFn]],
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices of the n candidates where derived controls agree with the owner most while
    independent references agree least (score = derived agreement x reference disagreement)."""
    derived = np.mean([fn(pool) == labels for _, fn in controls], axis=0)
    independent = np.mean([fn(pool) == labels for _, fn in references], axis=0)
    score = derived * (1.0 - independent)
    order = np.lexsort((rng.random(len(pool)), -score))
    return np.sort(order[:n])


def save_ip_fingerprint(fp: IPFingerprint, path: Path, key: bytes | None = None) -> None:
    """Write the document atomically, signed with the key when one is given."""
    doc = fp.to_dict()
    write_text_atomic(path, dumps(sign_document(doc, key) if key is not None else doc))


def load_ip_fingerprint(path: Path, public_key: str | None = None) -> tuple[IPFingerprint, bool]:
    """Read and validate a fingerprint; a signature present must verify (against public_key
    when given, which also makes one required). Returns the fingerprint and whether signed."""
    doc = read_json(path, "IP fingerprint")
    signed = isinstance(doc, dict) and "signature" in doc
    if signed or public_key is not None:
        require_signature(doc, f"IP fingerprint {path}", public_key)
    body = {k: v for k, v in doc.items() if k != "signature"} if signed else doc
    return IPFingerprint.from_dict(body, str(path)), signed


def dumps(doc: dict[str, Any]) -> str:
    """Indented JSON with one point per line (an image point stays one line)."""
    shell = {**doc, "points": "@points@"}
    text = json.dumps(shell, indent=1)
    body = ",\n  ".join(json.dumps(p) for p in doc["points"])
    return text.replace('"@points@"', f"[\n  {body}\n ]") + "\n"


def _table(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated float features and integer labels of the same length."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if x.ndim != 2 or len(x) < 10 or len(y) != len(x):
        raise DataError(f"fingerprint data needs at least 10 labelled rows, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError("fingerprint data contains NaN or infinite values")
    if len(np.unique(y)) < 2:
        raise DataError("fingerprint data has a single class: references cannot be trained")
    return x, y


def _describe(
    target: Target, n_features: int, shape: tuple[int, ...] | None, extra: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "name": target.name,
        "kind": target.kind,
        "n_classes": target.capabilities.n_classes,
        "n_features": n_features,
        "input_shape": list(shape) if shape else None,
        **(extra or {}),
    }
