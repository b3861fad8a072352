"""Streaming change detectors on one stream of numbers: river's ADWIN (adaptive window,
fed the raw values in [0, 1]) and Page-Hinkley (fed values standardised by the baseline's
mean and spread, so that its delta and threshold are in standard deviations).

Streams: `score` (positive-class probability for binary models, top probability otherwise)
and `error` (1 for a wrong prediction, 0 for a right one, once labels arrive)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ADWIN = "adwin"
PAGE_HINKLEY = "page_hinkley"
DETECTORS = (ADWIN, PAGE_HINKLEY)
HISTORY = 5_000
MIN_SCALE = 0.05


@dataclass(frozen=True)
class StreamSettings:
    """Detector parameters: ADWIN's confidence delta; Page-Hinkley's allowed drift (delta)
    and alarm line (threshold), both in baseline standard deviations, its warm-up, and its
    forgetting factor (1.0: none; river's default 0.9999 lets the statistic settle near
    -delta / (1 - alpha) where its noise alone crosses the threshold on long streams)."""

    adwin_delta: float = 0.002
    ph_delta: float = 0.1
    ph_threshold: float = 50.0
    ph_min_instances: int = 30
    ph_alpha: float = 1.0
    warmup: int = 100


@dataclass(frozen=True)
class StreamAlarm:
    """A detector saw the stream's mean change at value number `index`."""

    detector: str
    stream: str
    index: int
    mean_before: float
    mean_after: float


class StreamWatch:
    """ADWIN and Page-Hinkley watching one stream. The Page-Hinkley scale comes from the
    baseline (`center`, `scale`) or, when not given, from the first `warmup` values."""

    def __init__(
        self,
        stream: str,
        center: float | None = None,
        scale: float | None = None,
        settings: StreamSettings | None = None,
    ) -> None:
        self.stream = stream
        self.center = center
        self.scale = scale
        self.settings = settings or StreamSettings()
        self._adwin: Any = None  # river's detectors carry no type hints
        self._ph: Any = None
        self._history: deque[float] = deque(maxlen=HISTORY)
        self._seen = 0
        self._last_alarm = {name: 0 for name in DETECTORS}

    @property
    def seen(self) -> int:
        """How many values this watch has taken."""
        return self._seen

    def update(self, values: Sequence[float] | np.ndarray) -> list[StreamAlarm]:
        """Feed values in order; every alarm they raised."""
        alarms: list[StreamAlarm] = []
        for value in np.asarray(values, dtype=np.float64).ravel():
            alarms.extend(self._one(float(value)))
        return alarms

    def _one(self, value: float) -> list[StreamAlarm]:
        """Feed one value to both detectors."""
        self._seen += 1
        self._history.append(value)
        adwin, ph = self._detectors()
        out: list[StreamAlarm] = []
        adwin.update(value)
        if adwin.drift_detected:
            out.append(self._alarm(ADWIN, max(int(adwin.width), 1)))
        if ph is not None and self.center is not None and self.scale is not None:
            ph.update((value - self.center) / self.scale)
            if ph.drift_detected:
                out.append(self._alarm(PAGE_HINKLEY, self.settings.ph_min_instances))
        return out

    def _detectors(self) -> tuple[Any, Any]:
        """The detectors, built on first use; Page-Hinkley once its scale is known."""
        s = self.settings
        if self._adwin is None:
            self._adwin = _river_drift().ADWIN(delta=s.adwin_delta)
        if self._ph is None and self._scale_known():
            self._ph = _river_drift().PageHinkley(
                min_instances=s.ph_min_instances,
                delta=s.ph_delta,
                threshold=s.ph_threshold,
                alpha=s.ph_alpha,
            )
        return self._adwin, self._ph

    def _scale_known(self) -> bool:
        """True once center and scale are set, taking them from the warm-up if needed."""
        if self.center is not None and self.scale is not None:
            self.scale = max(self.scale, MIN_SCALE)
            return True
        if len(self._history) < self.settings.warmup:
            return False
        first = np.fromiter(self._history, dtype=np.float64)
        self.center = float(first.mean()) if self.center is None else self.center
        self.scale = max(float(first.std()), MIN_SCALE)
        return True

    def _alarm(self, detector: str, recent: int) -> StreamAlarm:
        """An alarm with the mean since the detector's previous alarm and the recent mean."""
        history = np.fromiter(self._history, dtype=np.float64)
        recent = min(recent, len(history))
        since = min(self._seen - self._last_alarm[detector], len(history))
        before = history[len(history) - since : len(history) - recent]
        after = history[len(history) - recent :]
        self._last_alarm[detector] = self._seen
        fallback = self.center if self.center is not None else float(after.mean())
        return StreamAlarm(
            detector,
            self.stream,
            self._seen,
            float(before.mean()) if len(before) else fallback,
            float(after.mean()),
        )


def _river_drift() -> Any:
    """river's drift module (imported on first use: river is slow to import)."""
    from river import drift

    return drift
