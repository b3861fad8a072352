"""Behavioral fingerprints: record what a model answers on seeded canaries (data rows plus
boundary-near points) and later tell whether the model still answers the same.

A changed weight, a swapped model or a backdoor fine-tune moves the decision boundary, so the
canaries next to it change first. The API has no CLI or store dependency: the runtime guard
and the service call `check_fingerprint` periodically with the live target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.integrity.fingerprint_canaries import BOUNDARY, DATA, select_canaries
from redwatch.integrity.fingerprint_record import (
    SCHEMA_VERSION,
    Fingerprint,
    load_fingerprint,
    save_fingerprint,
)
from redwatch.targets.base import Target

__all__ = [
    "SCHEMA_VERSION",
    "CanaryMove",
    "Fingerprint",
    "FingerprintCheck",
    "build_fingerprint",
    "check_fingerprint",
    "load_fingerprint",
    "save_fingerprint",
]

MATCH = "match"
DRIFT = "drift"


@dataclass(frozen=True)
class CanaryMove:
    """One canary whose answer left its tolerance: what was recorded, what came back."""

    index: int
    kind: str
    expected: Any  # probabilities (list of floats) or a class index
    got: Any
    delta: float  # largest absolute change of a probability (1.0 for a changed label)
    tolerance: float
    label_changed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "index": self.index,
            "kind": self.kind,
            "expected": self.expected,
            "got": self.got,
            "delta": self.delta,
            "tolerance": self.tolerance,
            "label_changed": self.label_changed,
        }


@dataclass(frozen=True)
class FingerprintCheck:
    """Outcome of checking a model against a fingerprint: verdict and the canaries that moved.

    `problem` explains a drift that no canary comparison could show (e.g. the model now
    returns a different number of classes or expects other inputs).
    """

    verdict: str
    compared: str  # "scores" or "labels"
    checked: int
    kinds: tuple[str, ...]
    moved: tuple[CanaryMove, ...] = ()
    max_delta: float = 0.0
    problem: str | None = None

    @property
    def matches(self) -> bool:
        """True when every canary answered within its tolerance."""
        return self.verdict == MATCH

    def moved_by_kind(self) -> dict[str, int]:
        """How many canaries of each kind moved."""
        return {k: sum(m.kind == k for m in self.moved) for k in (DATA, BOUNDARY)}

    def summary(self) -> str:
        """One line for a human."""
        if self.problem:
            return f"drift: {self.problem}"
        if self.matches:
            return f"match: all {self.checked} canaries within tolerance ({self.compared})"
        by_kind = self.moved_by_kind()
        return (
            f"drift: {len(self.moved)} of {self.checked} canaries moved "
            f"({by_kind[DATA]} data, {by_kind[BOUNDARY]} boundary; "
            f"max delta {self.max_delta:.3g}, {self.compared})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "verdict": self.verdict,
            "compared": self.compared,
            "checked": self.checked,
            "canaries": {k: self.kinds.count(k) for k in (DATA, BOUNDARY)},
            "moved_count": len(self.moved),
            "moved_by_kind": self.moved_by_kind(),
            "max_delta": self.max_delta,
            "problem": self.problem,
            "moved": [m.to_dict() for m in self.moved],
        }


def build_fingerprint(
    target: Target,
    x: np.ndarray,
    *,
    n_canaries: int = 128,
    seed: int = 0,
    boundary_fraction: float = 0.5,
    bisection_steps: int = 20,
    outputs: str = "auto",
    repeats: int = 3,
    tolerance_factor: float = 10.0,
    min_atol: float = 1e-6,
    description: dict[str, Any] | None = None,
) -> Fingerprint:
    """Record the target's answers on seeded canaries drawn from `x` plus boundary points.

    Scores are recorded when the target has them (unless outputs="labels"). The canaries are
    evaluated `repeats` times in different batch orders; each canary's tolerance is
    `max(tolerance_factor * observed jitter, min_atol)`. In labels mode a canary whose label
    is not stable across repeats is dropped.
    """
    settings = _settings(n_canaries, boundary_fraction, bisection_steps, repeats, min_atol)
    settings["tolerance_factor"] = tolerance_factor
    mode = _mode(target, outputs)
    rng = np.random.default_rng(seed)
    canaries = select_canaries(
        target,
        x,
        n_canaries=n_canaries,
        boundary_fraction=boundary_fraction,
        steps=bisection_steps,
        rng=rng,
    )
    orders = _orders(len(canaries), repeats, rng)
    runs = [observe(target, canaries.inputs, mode, order) for order in orders]
    expected = runs[0]
    keep = np.ones(len(canaries), dtype=bool)
    if mode == "scores":
        jitter = np.max([np.abs(r - expected).max(axis=1) for r in runs], axis=0)
        tolerances = np.maximum(jitter * tolerance_factor, min_atol)
    else:
        keep = np.all([r == expected for r in runs], axis=0)
        tolerances = np.zeros(len(canaries))
    settings["dropped_unstable"] = int((~keep).sum())
    return Fingerprint(
        model=_describe(target, canaries.inputs.shape[1], mode, description),
        outputs=mode,
        inputs=canaries.inputs[keep],
        kinds=tuple(k for k, ok in zip(canaries.kinds, keep, strict=True) if ok),
        expected=expected[keep],
        tolerances=tolerances[keep],
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=seed,
        settings=settings,
    )


def check_fingerprint(target: Target, fp: Fingerprint) -> FingerprintCheck:
    """Query the target on the fingerprint's canaries and list those that moved.

    A scores fingerprint is compared on labels when the target now exposes labels only.
    Costs one query per canary.
    """
    n_features = int(fp.inputs.shape[1])
    if target.n_features is not None and target.n_features != n_features:
        problem = f"model expects {target.n_features} features, fingerprint has {n_features}"
        return FingerprintCheck(DRIFT, fp.outputs, len(fp.kinds), fp.kinds, problem=problem)
    recorded = fp.model.get("classes")
    current = None if target.classes is None else [_plain(c) for c in target.classes]
    if recorded is not None and current is not None and recorded != current:
        problem = f"model classes are {current}, fingerprint recorded {recorded}"
        return FingerprintCheck(DRIFT, fp.outputs, len(fp.kinds), fp.kinds, problem=problem)
    if fp.outputs == "scores" and target.capabilities.scores:
        return _check_scores(target, fp)
    return _check_labels(target, fp)


def observe(
    target: Target, inputs: np.ndarray, mode: str, order: np.ndarray | None = None
) -> np.ndarray:
    """The target's scores (float64) or labels for `inputs`, queried in `order` and returned
    in the original row order."""
    idx = np.arange(len(inputs)) if order is None else order
    batch = inputs[idx]
    raw = target.predict_proba(batch) if mode == "scores" else target.predict(batch)
    out = np.empty_like(raw)
    out[idx] = raw
    return out


def _check_scores(target: Target, fp: Fingerprint) -> FingerprintCheck:
    got = observe(target, fp.inputs, "scores")
    if got.shape != fp.expected.shape:
        problem = (
            f"model returns {got.shape[1]} classes, fingerprint recorded {fp.expected.shape[1]}"
        )
        return FingerprintCheck(DRIFT, "scores", len(fp.kinds), fp.kinds, problem=problem)
    delta = np.abs(got - fp.expected).max(axis=1)
    flipped = got.argmax(axis=1) != fp.expected.argmax(axis=1)
    moved = np.flatnonzero((delta > fp.tolerances) | flipped)
    moves = tuple(
        CanaryMove(
            index=int(i),
            kind=fp.kinds[i],
            expected=[float(v) for v in fp.expected[i]],
            got=[float(v) for v in got[i]],
            delta=float(delta[i]),
            tolerance=float(fp.tolerances[i]),
            label_changed=bool(flipped[i]),
        )
        for i in moved
    )
    return _verdict("scores", fp, moves, float(delta.max(initial=0.0)))


def _check_labels(target: Target, fp: Fingerprint) -> FingerprintCheck:
    want = fp.expected if fp.outputs == "labels" else fp.expected.argmax(axis=1)
    got = observe(target, fp.inputs, "labels")
    moved = np.flatnonzero(got != want)
    moves = tuple(
        CanaryMove(int(i), fp.kinds[i], int(want[i]), int(got[i]), 1.0, 0.0, True) for i in moved
    )
    return _verdict("labels", fp, moves, 1.0 if len(moves) else 0.0)


def _verdict(
    compared: str, fp: Fingerprint, moves: tuple[CanaryMove, ...], max_delta: float
) -> FingerprintCheck:
    verdict = DRIFT if moves else MATCH
    return FingerprintCheck(verdict, compared, len(fp.kinds), fp.kinds, moves, max_delta)


def _mode(target: Target, outputs: str) -> str:
    if outputs not in ("auto", "scores", "labels"):
        raise UsageError(f"outputs must be auto, scores or labels, not {outputs!r}")
    if outputs == "scores" and not target.capabilities.scores:
        raise UsageError(f"target {target.name} exposes labels only; use outputs=labels")
    if outputs == "labels" or not target.capabilities.scores:
        return "labels"
    return "scores"


def _settings(
    n_canaries: int, boundary_fraction: float, steps: int, repeats: int, min_atol: float
) -> dict[str, Any]:
    if n_canaries < 1:
        raise UsageError(f"n_canaries must be at least 1, got {n_canaries}")
    if not 0.0 <= boundary_fraction <= 1.0:
        raise UsageError(f"boundary_fraction must be within [0, 1], got {boundary_fraction}")
    if steps < 1 or repeats < 1 or min_atol < 0:
        raise UsageError("bisection_steps and repeats must be positive, min_atol non-negative")
    return {
        "n_canaries": n_canaries,
        "boundary_fraction": boundary_fraction,
        "bisection_steps": steps,
        "repeats": repeats,
        "min_atol": min_atol,
    }


def _orders(n: int, repeats: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batch orders for the repeats: as is, reversed, then seeded shuffles, so that
    tolerances also absorb differences that depend on batch composition."""
    orders = [np.arange(n), np.arange(n)[::-1]]
    while len(orders) < repeats:
        orders.append(rng.permutation(n))
    return orders[:repeats]


def _describe(
    target: Target, n_features: int, mode: str, extra: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "name": target.name,
        "kind": target.kind,
        "n_classes": target.capabilities.n_classes,
        "n_features": n_features,
        "classes": None if target.classes is None else [_plain(c) for c in target.classes],
        "outputs": mode,
        **(extra or {}),
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
