"""detect: calibrated input detectors in front of the model (see docs/guard-detectors.md).

At build time (`check`) the stage loads clean reference rows, fits every listed detector on
one half and sets its threshold on the other half (split-conformal, calibration.py) so that
all detectors together flag at most `fpr` of clean rows. Per call it scores the rows; a
flagged row blocks the whole request (422) or is only recorded (`action: event`), with one
`anomaly` event per call naming the detector.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator

from redwatch.config import first_error
from redwatch.exceptions import DataError, RedwatchError, UsageError
from redwatch.guard.detectors import DETECTORS, Detector, DetectorParams, DetectorSetup
from redwatch.guard.detectors.calibration import (
    CalibratedDetector,
    calibrate,
    split_reference,
    subsample,
)
from redwatch.guard.stage import Action, Decision, GuardRequest, GuardStage, StageOptions

DetectorEntry = str | dict[str, Any]


def _default_detectors() -> list[DetectorEntry]:
    """The default: one detector that needs no model (works behind a remote upstream)."""
    return ["mahalanobis"]


class DetectOptions(StageOptions):
    """Which detectors (a method name, or a mapping with `method` and its parameters), the
    overall false-positive rate on clean rows, the reference data and what a flag does."""

    detectors: list[DetectorEntry] = Field(default_factory=_default_detectors, min_length=1)
    fpr: float = Field(default=0.01, gt=0.0, lt=0.5)
    reference: str | None = None
    action: Literal["block", "event"] = "block"
    max_reference_rows: int = Field(default=4000, ge=20)
    seed: int = Field(default=0, ge=0)

    @field_validator("detectors")
    @classmethod
    def _known(cls, value: list[DetectorEntry]) -> list[DetectorEntry]:
        """Every entry names a known method with valid parameters, each method once."""
        seen: set[str] = set()
        for i, entry in enumerate(value):
            method, _ = parse_entry(entry, i)
            if method in seen:
                raise ValueError(f"detector {method!r} is listed twice")
            seen.add(method)
        return value

    def entries(self) -> list[tuple[type[Detector], DetectorParams]]:
        """(detector class, validated parameters) per entry, in policy order."""
        out = []
        for i, entry in enumerate(self.detectors):
            method, params = parse_entry(entry, i)
            out.append((DETECTORS[method], params))
        return out


def parse_entry(entry: DetectorEntry, index: int) -> tuple[str, DetectorParams]:
    """(method, parameters) of one `detectors` entry; ValueError naming the entry."""
    raw = {"method": entry} if isinstance(entry, str) else dict(entry)
    method = raw.pop("method", None)
    if not isinstance(method, str):
        raise ValueError(f"entry {index}: needs a `method` (one of {', '.join(DETECTORS)})")
    if method not in DETECTORS:
        raise ValueError(
            f"entry {index}: unknown detector {method!r}; known: {', '.join(DETECTORS)}"
        )
    try:
        params = DETECTORS[method].params_model.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"entry {index} ({method}): {first_error(exc)}") from None
    return method, params


class DetectStage(GuardStage):
    """Score each request's rows with calibrated detectors; block or record flagged ones."""

    name: ClassVar[str] = "detect"
    description: ClassVar[str] = (
        "Calibrated anomaly detectors (Mahalanobis, isolation forest, squeezing, STRIP...)."
    )
    options_model: ClassVar[type[StageOptions]] = DetectOptions
    options: DetectOptions
    calibrated: list[CalibratedDetector]
    n_features: int

    def check(self) -> None:
        """Build the detectors (a local model where needed), load the reference, fit and
        calibrate each one at fpr / (number of detectors)."""
        opts = self.options
        detectors = [cls(params, self._setup(cls)) for cls, params in opts.entries()]
        rows = self.context.reference_rows(self.name, opts.reference)
        if not np.isfinite(rows).all():
            raise DataError(f"stage {self.name}: reference rows contain NaN or infinite values")
        rows = subsample(rows, opts.max_reference_rows, opts.seed)
        fit_rows, cal_rows = split_reference(rows, opts.seed)
        alpha = opts.fpr / len(detectors)
        self.calibrated = [self._calibrate(d, fit_rows, cal_rows, alpha) for d in detectors]
        self.n_features = int(rows.shape[1])

    def _setup(self, cls: type[Detector]) -> DetectorSetup:
        """What one detector may use; UsageError when it needs a model or images."""
        proba = None
        if cls.needs_model:
            proba = self.context.model(self.name, f"detector {cls.method}")
        spec = self.spec
        if cls.images_only and (spec is None or spec.image_shape is None):
            raise UsageError(
                f"stage {self.name}: detector {cls.method} works on images only "
                "(the input spec has no image_shape)"
            )
        return DetectorSetup(spec=spec, proba=proba, seed=self.options.seed)

    def _calibrate(
        self, detector: Detector, fit_rows: np.ndarray, cal_rows: np.ndarray, alpha: float
    ) -> CalibratedDetector:
        """calibrate(), with errors prefixed by the stage and detector names."""
        try:
            return calibrate(detector, fit_rows, cal_rows, alpha)
        except RedwatchError as exc:
            where = f"stage {self.name}: detector {detector.method}: "
            message = str(exc).removeprefix(f"detector {detector.method}: ")
            raise type(exc)(where + message) from None

    def scores(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Every detector's (n,) scores for `rows` (benchmarks and diagnostics)."""
        return {cal.name: cal.score(rows) for cal in self.calibrated}

    def on_request(self, request: GuardRequest) -> Decision:
        """Block (422) or record a call in which any row is flagged; rows the detectors
        cannot read (wrong width 400, NaN/Inf 422) are refused whatever `action` says."""
        rows = request.rows
        problem = self._unreadable(rows)
        if problem is not None:
            reason, status = problem
            event = self.event(request, "invalid_input", Action.BLOCK, reason, status=status)
            return Decision.block(reason, status, (event,))
        flags = self._flags(rows)
        if not flags:
            return Decision.allow()
        return self._decide(request, flags)

    def _unreadable(self, rows: np.ndarray) -> tuple[str, int] | None:
        """(reason, status) when the rows cannot be scored, else None."""
        if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] != self.n_features:
            return (
                f"rows of shape {rows.shape} cannot be scored: the detectors expect "
                f"{self.n_features} features",
                400,
            )
        if not np.isfinite(rows).all():
            return "rows contain NaN or infinite values", 422
        return None

    def _flags(self, rows: np.ndarray) -> list[tuple[CalibratedDetector, np.ndarray, np.ndarray]]:
        """(detector, scores, flagged mask) for each detector that flags a row, in policy
        order; with action block the first one that flags ends the check (cheaper)."""
        found = []
        for cal in self.calibrated:
            scores = cal.score(rows)
            hit = cal.flagged(scores)
            if hit.any():
                found.append((cal, scores, hit))
                if self.options.action == "block":
                    break
        return found

    def _decide(
        self,
        request: GuardRequest,
        flags: list[tuple[CalibratedDetector, np.ndarray, np.ndarray]],
    ) -> Decision:
        """One `anomaly` event naming the most significant detector; block or allow."""
        cal, score, p_value = _most_significant(flags)
        rows = sorted({int(i) for _, _, hit in flags for i in np.flatnonzero(hit)})
        n = len(request.rows)
        reason = (
            f"{len(rows)} of {n} row(s) flagged as anomalous by detector {cal.name} "
            f"(score {score:.4g} above threshold {cal.threshold:.4g})"
        )
        block = self.options.action == "block"
        data: dict[str, Any] = {
            "detector": cal.name,
            "score": score,
            "threshold": float(cal.threshold),
            "p_value": p_value,
            "rows": rows,
            "flagged": {c.name: [int(i) for i in np.flatnonzero(h)] for c, _, h in flags},
            "fpr": float(cal.alpha),
        }
        if block:
            data["status"] = 422
        action = Action.BLOCK if block else Action.ALLOW
        event = self.event(request, "anomaly", action, reason, **data)
        return Decision.block(reason, 422, (event,)) if block else Decision.allow((event,))


def _most_significant(
    flags: list[tuple[CalibratedDetector, np.ndarray, np.ndarray]],
) -> tuple[CalibratedDetector, float, float]:
    """(detector, score, p-value) of the flagged row with the smallest conformal p-value
    (earliest detector on ties): the one least like the clean reference."""
    best: tuple[CalibratedDetector, float, float] | None = None
    for cal, scores, hit in flags:
        hits = scores[hit]
        p = cal.p_values(hits)
        i = int(np.argmin(p))
        if best is None or p[i] < best[2]:
            best = (cal, float(hits[i]), float(p[i]))
    assert best is not None
    return best
