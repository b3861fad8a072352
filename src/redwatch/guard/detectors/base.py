"""The detector contract: fit on clean reference rows, then score rows (higher = more
suspicious). A detector knows nothing about thresholds; calibration.py turns its scores on
held-out clean rows into a threshold with a known false-positive rate."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from redwatch.exceptions import DataError, UsageError
from redwatch.targets.spec import InputSpec

ProbaFn = Callable[[np.ndarray], np.ndarray]


class DetectorParams(BaseModel):
    """Base of every detector's parameters: strict (unknown keys are errors), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class DetectorSetup:
    """What a detector may use besides its parameters: the InputSpec (bounds, image shape),
    the local model's probability function (None behind a remote upstream) and a seed."""

    spec: InputSpec | None = None
    proba: ProbaFn | None = None
    seed: int = 0


class Detector(ABC):
    """One anomaly score. Subclasses declare `method` (the policy name), `description`,
    `params_model`, whether they query the model (`needs_model`) and whether they only make
    sense for images (`images_only`); `fit` does the one-off work, `score` runs per call."""

    method: ClassVar[str]
    description: ClassVar[str]
    params_model: ClassVar[type[DetectorParams]] = DetectorParams
    needs_model: ClassVar[bool] = False
    images_only: ClassVar[bool] = False

    def __init__(self, params: DetectorParams, setup: DetectorSetup) -> None:
        self.params = params
        self.setup = setup

    @abstractmethod
    def fit(self, rows: np.ndarray) -> None:
        """Learn what clean rows look like from `rows` (n x d, finite floats)."""

    @abstractmethod
    def score(self, rows: np.ndarray) -> np.ndarray:
        """(n,) float scores, higher meaning more suspicious; deterministic per row."""

    def model_proba(self, rows: np.ndarray) -> np.ndarray:
        """The local model's probabilities for `rows` as an (n, k) float64 array."""
        if self.setup.proba is None:
            raise UsageError(f"detector {self.method} needs a local model")
        out = np.asarray(self.setup.proba(rows), dtype=np.float64)
        if out.ndim != 2 or out.shape[0] != rows.shape[0]:
            raise DataError(
                f"detector {self.method}: the model returned shape {out.shape} "
                f"for {rows.shape[0]} rows"
            )
        return out


def feature_box(setup: DetectorSetup, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lower, scale) of each feature: the spec's bounds when known, else the range of the
    fitting rows (scale floored at 1e-12 so that constant features never divide by zero)."""
    if setup.spec is not None:
        return np.asarray(setup.spec.lower, dtype=np.float64), setup.spec.scale
    lower = rows.min(axis=0)
    return lower, np.maximum(rows.max(axis=0) - lower, 1e-12)


def l1_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise L1 distance between two (n, k) probability arrays."""
    return np.asarray(np.abs(p - q).sum(axis=1))
