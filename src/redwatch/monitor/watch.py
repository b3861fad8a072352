"""TargetWatch: the monitoring state of one target between windows. It buffers served rows
into windows of `window` rows, tests each full window against the baseline, feeds the score
and error streams to their detectors and evaluates windows of labelled predictions. It
returns points (for charts) and signals (to become events); it never touches the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.monitor.drift import PSI, DriftThresholds, FeatureTest, WindowReport, compare_window
from redwatch.monitor.labels import ACCURACY, AUC, LabelledBuffer, PerformanceReport, evaluate
from redwatch.monitor.reference import Reference
from redwatch.monitor.streams import StreamAlarm, StreamSettings, StreamWatch

DRIFT = "drift"
SCORE_DRIFT = "score_drift"
PERFORMANCE = "performance"
INTEGRITY = "integrity"


@dataclass(frozen=True)
class MonitorSettings:
    """A target's monitoring settings (the registration's `monitor` block)."""

    window: int = 500
    label_window: int = 500
    features: tuple[str | int, ...] | None = None
    integrity_every_s: float = 300.0
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    streams: StreamSettings = field(default_factory=StreamSettings)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> MonitorSettings:
        """Settings from `{window, label_window, features, integrity_every_s, psi, alpha}`;
        UsageError naming a bad value."""
        spec = spec or {}
        window = int(spec.get("window") or 500)
        label_window = int(spec.get("label_window") or window)
        every = float(spec.get("integrity_every_s") or 300.0)
        if not 10 <= window <= 1_000_000 or not 10 <= label_window <= 1_000_000:
            raise UsageError(f"monitor window must be 10..1000000 rows, got {window}")
        if every <= 0:
            raise UsageError(f"monitor integrity_every_s must be positive, got {every}")
        features = spec.get("features")
        limits = DriftThresholds(float(spec.get("psi", 0.2)), float(spec.get("alpha", 0.01)))
        return cls(window, label_window, tuple(features) if features else None, every, limits)


@dataclass(frozen=True)
class Point:
    """One measured value for the charts: metric name, value, time and details."""

    metric: str
    value: float
    time: float
    data: dict[str, Any]


@dataclass(frozen=True)
class Signal:
    """Something to publish as a monitor event: kind, one-line detail and data."""

    kind: str
    detail: str
    data: dict[str, Any]


@dataclass
class Outcome:
    """What one call produced."""

    points: list[Point] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)

    def extend(self, other: Outcome) -> None:
        """Append another outcome's points and signals."""
        self.points.extend(other.points)
        self.signals.extend(other.signals)


class TargetWatch:
    """Windows, streams and label windows of one target."""

    def __init__(self, target: str, reference: Reference, settings: MonitorSettings) -> None:
        self.target = target
        self.reference = reference
        self.settings = settings
        self._rows: list[np.ndarray] = []
        self._times: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self._score_watch: StreamWatch | None = None
        self._error_watch: StreamWatch | None = None
        self._last_signal: dict[tuple[str, str], int] = {}
        self.labelled = LabelledBuffer()

    @property
    def pending(self) -> int:
        """Rows waiting for their window to fill."""
        return sum(len(r) for r in self._rows)

    def add_rows(self, rows: np.ndarray, scores: np.ndarray | None, times: np.ndarray) -> Outcome:
        """Buffer served rows; test every window they complete; feed the score stream."""
        out = Outcome()
        if scores is not None:
            out.extend(self._stream(self._scores_watch(), scores, float(times[-1])))
        self._rows.append(rows)
        self._times.append(times)
        self._scores.append(scores if scores is not None else np.full(len(rows), np.nan))
        while self.pending >= self.settings.window:
            out.extend(self._window())
        return out

    def add_labelled(
        self, correct: bool, positive: bool | None, score: float | None, when: float
    ) -> Outcome:
        """One labelled prediction: feeds the error stream; a full label window is evaluated."""
        self.labelled.add(correct, positive, score, when)
        out = self._stream(self._errors_watch(), np.array([0.0 if correct else 1.0]), when)
        if len(self.labelled) >= self.settings.label_window:
            out.extend(self.evaluate_labels(self.settings.label_window))
        return out

    def evaluate_labels(self, n: int) -> Outcome:
        """Evaluate the `n` oldest waiting labelled predictions as one window."""
        window = self.labelled.take(n)
        report = evaluate(window, self.reference.performance)
        return _performance(report, self.reference, max(window.times), n)

    def _window(self) -> Outcome:
        """Test the oldest full window against the baseline."""
        rows, times, scores = (
            np.concatenate(part) for part in (self._rows, self._times, self._scores)
        )
        n = self.settings.window
        self._rows, self._times, self._scores = [rows[n:]], [times[n:]], [scores[n:]]
        report = compare_window(self.reference.baseline, rows[:n], self.settings.thresholds)
        span = (float(times[:n].min()), float(times[:n].max()))
        out = _drift(report, span)
        window_scores = scores[:n][np.isfinite(scores[:n])]
        if len(window_scores):
            data = {"n": len(window_scores), "window_start": span[0], "window_end": span[1]}
            out.points.append(Point("score_mean", float(window_scores.mean()), span[1], data))
        return out

    def _scores_watch(self) -> StreamWatch:
        if self._score_watch is None:
            ref = self.reference
            self._score_watch = StreamWatch(
                "score", ref.score_center, ref.score_scale, self.settings.streams
            )
        return self._score_watch

    def _errors_watch(self) -> StreamWatch:
        if self._error_watch is None:
            accuracy = self.reference.performance.accuracy
            center = None if accuracy is None else 1.0 - accuracy
            scale = None if center is None else float(np.sqrt(center * (1 - center)))
            self._error_watch = StreamWatch("error", center, scale, self.settings.streams)
        return self._error_watch

    def _stream(self, watch: StreamWatch, values: np.ndarray, when: float) -> Outcome:
        """Feed a stream; one signal per detector and stream per window of values at most."""
        out = Outcome()
        for alarm in watch.update(values):
            key = (alarm.detector, alarm.stream)
            last = self._last_signal.get(key)
            if last is not None and alarm.index - last < self.settings.window:
                continue
            self._last_signal[key] = alarm.index
            out.signals.append(_stream_signal(alarm))
            data = {"stream": alarm.stream, "mean_before": alarm.mean_before}
            out.points.append(
                Point(f"{alarm.detector}:{alarm.stream}", alarm.mean_after, when, data)
            )
        return out


def _drift(report: WindowReport, span: tuple[float, float]) -> Outcome:
    """Points for every test of a window and one signal per drifting feature."""
    out = Outcome()
    base: dict[str, Any] = {"window_start": span[0], "window_end": span[1], "n": report.n}
    for test in report.tests:
        data = {**base, "p_value": test.p_value, "threshold": test.threshold}
        out.points.append(
            Point(
                f"{test.test}:{test.feature}",
                test.statistic,
                span[1],
                {**data, "drifted": test.drifted},
            )
        )
    by_feature: dict[str, list[FeatureTest]] = {}
    for test in report.drifted():
        by_feature.setdefault(test.feature, []).append(test)
    for feature, tests in by_feature.items():
        strongest = next((t for t in tests if t.test != PSI), tests[0])
        psi = report.of(feature, PSI)
        data = {
            **base,
            "feature": feature,
            "test": strongest.test,
            "statistic": strongest.statistic,
            "p_value": strongest.p_value,
            "threshold": strongest.threshold,
            "psi": None if psi is None else psi.statistic,
            "tests": [t.test for t in tests],
        }
        detail = f"feature {feature} drifted ({strongest.test} {strongest.statistic:.3g})"
        out.signals.append(Signal(DRIFT, detail, data))
    out.points.append(Point("drifted_features", float(len(by_feature)), span[1], base))
    return out


def _stream_signal(alarm: StreamAlarm) -> Signal:
    """The score_drift signal of a detector alarm."""
    data = {
        "detector": alarm.detector,
        "stream": alarm.stream,
        "mean_before": alarm.mean_before,
        "mean_after": alarm.mean_after,
        "index": alarm.index,
    }
    detail = (
        f"{alarm.detector} saw the {alarm.stream} stream move from "
        f"{alarm.mean_before:.3g} to {alarm.mean_after:.3g}"
    )
    return Signal(SCORE_DRIFT, detail, data)


def _performance(report: PerformanceReport, ref: Reference, when: float, n: int) -> Outcome:
    """Accuracy / AUC points of a label window and a signal for each drop."""
    out = Outcome()
    perf = ref.performance
    values = (
        (ACCURACY, report.accuracy, perf.accuracy, report.accuracy_drop),
        (AUC, report.auc, perf.auc, report.auc_drop),
    )
    for metric, value, baseline, dropped in values:
        if value is None:
            continue
        data = {"metric": metric, "value": value, "baseline": baseline, "window": n}
        out.points.append(Point(metric, float(value), when, {**data, "drop": dropped}))
        if dropped:
            detail = (
                f"{metric} fell to {value:.3f} on {n} labelled predictions (was {baseline:.3f})"
            )
            out.signals.append(Signal(PERFORMANCE, detail, data))
    return out
