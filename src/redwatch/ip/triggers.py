"""Secret trigger sets for a trigger-set watermark (Adi et al. 2018): inputs and labels derived
from the owner's key, so that only the key holder can regenerate them, and a digest of them
that a commitment can carry without revealing them.

Images get out-of-distribution patterns (blocks, bars and salt noise — never digits); tables
get points inside the data's box but far from every real row. Labels are key-derived and,
when the clean model's answers are given, never the label the clean model already gives, so
that an independent model rarely agrees by chance. Those labels depend on the clean model,
which a verifier may not have; they are kept in the parameters sealed with a key-derived
one-time pad (modulo K), which reveals nothing without the key.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.exceptions import DataError, UsageError
from redwatch.ip.keys import keyed_rng

GENERATOR = "redwatch.ip.triggers/v1"
KINDS = ("image", "table")
POOL_FACTOR = 20  # table candidates drawn per trigger before the off-manifold choice
MANIFOLD_QUANTILE = 0.99  # a trigger is farther from the data than 99% of rows from theirs
_REFERENCE_CAP = 4000  # reference rows used for nearest-neighbour distances


@dataclass(frozen=True)
class TriggerSet:
    """The secret trigger inputs (n, d) as float64, their labels (class indices) and the
    parameters that regenerate them from the key (what a commitment stores)."""

    inputs: np.ndarray
    labels: np.ndarray
    kind: str
    params: dict[str, Any]

    @property
    def n(self) -> int:
        """Number of triggers."""
        return len(self.labels)


def derive_triggers(
    key: bytes,
    *,
    kind: str,
    n_features: int,
    n_classes: int,
    n: int = 100,
    image_shape: tuple[int, ...] | None = None,
    lower: float | np.ndarray | None = None,
    upper: float | np.ndarray | None = None,
    reference: np.ndarray | None = None,
    source_labels: np.ndarray | None = None,
) -> TriggerSet:
    """Derive n triggers from the key. Images: patterns in [lower, upper] (default 0..1) of
    `image_shape` (default (1, s, s) when n_features is a square). Tables: points in the box
    [lower, upper] (default: the reference rows' range), chosen far from the reference rows;
    integer columns of the reference stay integer. With `source_labels` (the clean model's
    labels for these very inputs) no trigger keeps its source label."""
    params = _base_params(kind, n, n_features, n_classes)
    if kind == "image":
        params.update(_image_params(n_features, image_shape, lower, upper))
    else:
        params.update(_table_params(key, params, lower, upper, reference))
    inputs = _inputs(key, params)
    labels = _labels(key, n, n_classes, source_labels)
    params["label_seal"] = ((labels + _pad(key, n, n_classes)) % n_classes).tolist()
    return TriggerSet(inputs, labels, kind, params)


def regenerate(key: bytes, params: dict[str, Any]) -> TriggerSet:
    """The trigger set described by stored parameters (a commitment's `trigger.params`),
    rebuilt with the key; DataError when the parameters are malformed."""
    try:
        if params.get("generator") != GENERATOR:
            raise DataError(f"unknown trigger generator {params.get('generator')!r}")
        n, k = int(params["n"]), int(params["n_classes"])
        sealed = np.asarray(params["label_seal"], dtype=np.int64)
        inputs = _inputs(key, params)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"malformed trigger parameters: {type(exc).__name__}: {exc}") from None
    if sealed.shape != (n,) or len(inputs) != n or k < 2:
        raise DataError(f"malformed trigger parameters: {n} triggers, {len(sealed)} labels")
    labels = (sealed - _pad(key, n, k)) % k
    return TriggerSet(inputs, labels.astype(np.int64), str(params["kind"]), dict(params))


def trigger_digest(triggers: TriggerSet) -> str:
    """`sha256:` digest of the canonical text of the trigger rows and labels: one line per
    trigger, each value printed as `%.12g` and the label after a `|`, under a header naming
    the generator, kind and sizes. Text, so any language can recompute it."""
    rows = np.asarray(triggers.inputs, dtype=np.float64) + 0.0  # -0.0 becomes 0.0
    n, d = rows.shape
    h = hashlib.sha256(f"{GENERATOR}|{triggers.kind}|{n}|{d}\n".encode("ascii"))
    template = ",".join(["%.12g"] * d)
    for values, label in zip(rows.tolist(), triggers.labels.tolist(), strict=True):
        h.update(f"{template % tuple(values)}|{int(label)}\n".encode("ascii"))
    return "sha256:" + h.hexdigest()


def _base_params(kind: str, n: int, n_features: int, n_classes: int) -> dict[str, Any]:
    """The parameters every trigger set has; UsageError for impossible values."""
    if kind not in KINDS:
        raise UsageError(f"trigger kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if n < 1:
        raise UsageError(f"the trigger set needs at least one trigger, got {n}")
    if n_classes < 2:
        raise UsageError(f"a watermark needs at least two classes, got {n_classes}")
    if n_features < 1:
        raise UsageError(f"the model needs at least one input feature, got {n_features}")
    return {
        "generator": GENERATOR,
        "kind": kind,
        "n": n,
        "n_features": n_features,
        "n_classes": n_classes,
    }


def _image_params(
    n_features: int,
    image_shape: tuple[int, ...] | None,
    lower: float | np.ndarray | None,
    upper: float | np.ndarray | None,
) -> dict[str, Any]:
    """Image shape and the pixel value range."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise UsageError(f"{n_features} features are not a square image; give image_shape")
        image_shape = (1, side, side)
    if len(image_shape) == 2:
        image_shape = (1, *image_shape)
    if len(image_shape) != 3 or math.prod(image_shape) != n_features:
        raise UsageError(f"image shape {image_shape} does not hold {n_features} features")
    lo = 0.0 if lower is None else float(np.min(lower))
    hi = 1.0 if upper is None else float(np.max(upper))
    if not lo < hi:
        raise UsageError(f"the pixel range [{lo}, {hi}] is empty")
    return {"image_shape": [int(s) for s in image_shape], "lower": lo, "upper": hi}


def _table_params(
    key: bytes,
    params: dict[str, Any],
    lower: float | np.ndarray | None,
    upper: float | np.ndarray | None,
    reference: np.ndarray | None,
) -> dict[str, Any]:
    """The box, the integer columns and which key-derived candidates lie off the manifold."""
    d = int(params["n_features"])
    ref = None if reference is None else np.asarray(reference, dtype=np.float64)
    if ref is not None and (ref.ndim != 2 or ref.shape[1] != d or len(ref) < 2):
        raise UsageError(f"reference rows must be a (rows >= 2, {d}) table")
    if ref is not None and not np.all(np.isfinite(ref)):
        raise DataError("reference rows contain NaN or infinite values")
    lo = _bound(lower, ref, d, np.min)
    hi = _bound(upper, ref, d, np.max)
    if np.any(lo > hi):
        raise UsageError("the table box has a lower bound above its upper bound")
    integer = [] if ref is None else np.flatnonzero(np.all(ref == np.round(ref), axis=0)).tolist()
    box = {"lower": lo.tolist(), "upper": hi.tolist(), "integer": integer}
    pool = int(params["n"]) * POOL_FACTOR
    candidates = _table_candidates(key, {**box, "pool": pool, "n_features": d})
    picked = _off_manifold(candidates, ref, lo, hi, int(params["n"]))
    return {**box, "pool": pool, "picked": picked}


def _bound(
    given: float | np.ndarray | None, ref: np.ndarray | None, d: int, reduce: Any
) -> np.ndarray:
    """A per-feature bound: the given value(s), else the reference's min or max."""
    if given is not None:
        out = np.broadcast_to(np.asarray(given, dtype=np.float64), (d,)).copy()
    elif ref is not None:
        out = np.asarray(reduce(ref, axis=0), dtype=np.float64)
    else:
        raise UsageError("table triggers need lower/upper bounds or reference rows")
    if not np.all(np.isfinite(out)):
        raise UsageError("table bounds must be finite")
    return out


def _off_manifold(
    candidates: np.ndarray, ref: np.ndarray | None, lo: np.ndarray, hi: np.ndarray, n: int
) -> list[int]:
    """Indices of n candidates far from the data: in stream order among those farther (in
    range-scaled units) from every reference row than MANIFOLD_QUANTILE of the rows are from
    their nearest neighbour, topped up with the farthest others. Without reference rows,
    the first n."""
    if ref is None:
        return list(range(n))
    from scipy.spatial import cKDTree

    scale = np.maximum(hi - lo, 1e-12)
    rows = ref[:_REFERENCE_CAP] / scale
    tree = cKDTree(rows)
    own = tree.query(rows, k=2)[0][:, 1]
    threshold = float(np.quantile(own, MANIFOLD_QUANTILE))
    distance = tree.query(candidates / scale, k=1)[0]
    far = np.flatnonzero(distance > threshold)[:n]
    if len(far) < n:
        rest = np.setdiff1d(np.argsort(-distance, kind="stable"), far, assume_unique=True)
        far = np.concatenate([far, rest[: n - len(far)]])
    return [int(i) for i in far]


def _inputs(key: bytes, params: dict[str, Any]) -> np.ndarray:
    """The trigger rows the parameters describe (the key supplies the randomness)."""
    if params["kind"] == "image":
        return _image_inputs(key, params)
    if params["kind"] == "table":
        candidates = _table_candidates(key, params)
        return candidates[np.asarray(params["picked"], dtype=np.int64)]
    raise DataError(f"unknown trigger kind {params['kind']!r}")


def _table_candidates(key: bytes, params: dict[str, Any]) -> np.ndarray:
    """`pool` key-derived points uniform in the box, integer columns rounded."""
    lo = np.asarray(params["lower"], dtype=np.float64)
    hi = np.asarray(params["upper"], dtype=np.float64)
    d = int(params["n_features"])
    if lo.shape != (d,) or hi.shape != (d,):
        raise DataError(f"table bounds must have {d} values")
    rng = keyed_rng(key, "triggers/table")
    points = lo + rng.random((int(params["pool"]), d)) * (hi - lo)
    integer = np.asarray(params["integer"], dtype=np.int64)
    points[:, integer] = np.clip(np.round(points[:, integer]), lo[integer], hi[integer])
    return points


def _image_inputs(key: bytes, params: dict[str, Any]) -> np.ndarray:
    """Patterns made of 2–4 random blocks or bars over sparse salt noise, one per trigger."""
    c, h, w = (int(s) for s in params["image_shape"])
    lo, hi = float(params["lower"]), float(params["upper"])
    rng = keyed_rng(key, "triggers/image")
    n = int(params["n"])
    images = np.zeros((n, c, h, w))
    for i in range(n):
        images[i] = _pattern(rng, c, h, w)
    return (lo + images * (hi - lo)).reshape(n, c * h * w)


def _pattern(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    """One pattern in [0, 1]: salt noise on 3–8% of pixels plus filled rectangles and thin
    bars at random places and intensities."""
    img = (rng.random((c, h, w)) < rng.uniform(0.03, 0.08)).astype(np.float64)
    for _ in range(int(rng.integers(2, 5))):
        if rng.random() < 0.5:  # a filled block
            bh, bw = int(rng.integers(2, max(3, h // 3))), int(rng.integers(2, max(3, w // 3)))
        elif rng.random() < 0.5:  # a horizontal bar
            bh, bw = int(rng.integers(1, 3)), int(rng.integers(w // 3, w))
        else:  # a vertical bar
            bh, bw = int(rng.integers(h // 3, h)), int(rng.integers(1, 3))
        top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        img[:, top : top + bh, left : left + bw] = rng.uniform(0.5, 1.0)
    return img


def _labels(key: bytes, n: int, n_classes: int, source_labels: np.ndarray | None) -> np.ndarray:
    """Key-derived labels; with source labels, a key-derived non-zero shift of each."""
    rng = keyed_rng(key, "triggers/labels")
    if source_labels is None:
        return rng.integers(0, n_classes, size=n).astype(np.int64)
    source = np.asarray(source_labels, dtype=np.int64).reshape(-1)
    if source.shape != (n,) or np.any((source < 0) | (source >= n_classes)):
        raise UsageError(f"source labels must be {n} class indices in 0..{n_classes - 1}")
    shift = 1 + rng.integers(0, n_classes - 1, size=n)
    return ((source + shift) % n_classes).astype(np.int64)


def _pad(key: bytes, n: int, n_classes: int) -> np.ndarray:
    """The one-time pad (mod K) that seals the labels in the stored parameters."""
    return keyed_rng(key, "triggers/label-seal").integers(0, n_classes, size=n).astype(np.int64)
