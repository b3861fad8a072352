"""MonitorHub: continuous monitoring of the registered targets' traffic. It stores every
observed prediction, feeds each target's TargetWatch (windows, streams, label windows),
writes the monitor points and publishes `drift`, `score_drift`, `performance` and
`integrity` events; a thread runs the periodic integrity checks. All store and file I/O of
monitoring happens here; the logic lives in redwatch.monitor."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from redwatch.engine.data import load_csv
from redwatch.exceptions import DataError, RedwatchError, TargetError
from redwatch.guard.stage import Action, GuardEvent
from redwatch.integrity.fingerprint import Fingerprint, load_fingerprint, save_fingerprint
from redwatch.monitor import integrity_watch as iw
from redwatch.monitor.labels import class_index, plain
from redwatch.monitor.reference import build_reference, scores_of
from redwatch.monitor.watch import INTEGRITY, MonitorSettings, Outcome, Point, Signal, TargetWatch
from redwatch.service.audit_log import record
from redwatch.service.keys import Principal
from redwatch.service.state import ServiceState
from redwatch.store.service_models import (
    ModelVersionRow,
    MonitorPointRow,
    ObservationRow,
    RegistrationRow,
)
from redwatch.targets.base import Target

log = logging.getLogger("redwatch.service.monitor")
MAX_ID = 64
CHUNK = 500


class UnknownTarget(TargetError):
    """The named target is not registered (the routes answer 404)."""


@dataclass(frozen=True)
class LabelOutcome:
    """What a batch of labels did: how many were stored and the ids nobody observed."""

    labelled: int
    unknown: list[str]


@dataclass
class _Registration:
    """What the hub needs from a registration and its newest model version."""

    name: str
    spec: dict[str, Any]
    settings: MonitorSettings
    model_path: str
    model_sha: str | None


@dataclass
class _Integrity:
    """Per-target integrity state: last check time and the fingerprint of each model hash."""

    checked_at: float = 0.0
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)


class MonitorHub:
    """Observations in, monitor points and events out; periodic integrity checks."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._lock = threading.RLock()
        self._watches: dict[str, TargetWatch] = {}
        self._integrity: dict[str, _Integrity] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread that ticks every settings.tick_s."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="redwatch-monitor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (joined with a timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
            self._thread = None

    def _run(self) -> None:
        """Tick until closed; a failing tick is logged, never fatal."""
        while not self._stop.wait(self.state.settings.tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("monitor tick failed")

    def tick(self) -> None:
        """Integrity checks of every registration whose period has passed; forget the
        watches of deleted registrations."""
        names = self._registered_names()
        with self._lock:
            for gone in set(self._watches) - set(names):
                self._watches.pop(gone, None)
                self._integrity.pop(gone, None)
        now = time.time()
        for name in names:
            if self._stop.is_set():
                return
            reg = self._registration(name)
            state = self._integrity.setdefault(name, _Integrity())
            if state.checked_at and now - state.checked_at < reg.settings.integrity_every_s:
                continue
            try:
                self.check_integrity(name)
            except RedwatchError as exc:
                log.warning("integrity check of %s failed: %s", name, exc)

    # -- observations -----------------------------------------------------------------------
    def observe(
        self,
        target: str,
        rows: np.ndarray,
        proba: np.ndarray | None,
        predicted: np.ndarray,
        ids: Sequence[str] | None = None,
        when: float | None = None,
        *,
        who: Principal | None = None,
    ) -> list[str]:
        """Store served predictions, feed the target's windows and detectors, publish what
        they found; the prediction ids (generated when not given). DataError for rows of
        the wrong width, NaN, or ids used already; UnknownTarget for an unregistered name."""
        watch = self._watch(target)
        x, p, pred, id_list = _checked_batch(
            watch.reference.baseline.n_columns, rows, proba, predicted, ids
        )
        stamp = time.time() if when is None else float(when)
        scores = None if p is None else scores_of(p)
        self._store_observations(target, x, pred, scores, id_list, stamp, who)
        with self._lock:
            outcome = watch.add_rows(x, scores, np.full(len(x), stamp))
        self._emit(target, outcome)
        return id_list

    def _store_observations(
        self,
        target: str,
        x: np.ndarray,
        predicted: list[Any],
        scores: np.ndarray | None,
        ids: list[str],
        stamp: float,
        who: Principal | None,
    ) -> None:
        """Insert the observation rows in one transaction; DataError for a used id."""
        moment = datetime.fromtimestamp(stamp, UTC)
        with self.state.store.transaction(f"store {len(ids)} observation(s)", write=True) as s:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                used = s.scalars(
                    select(ObservationRow.id).where(ObservationRow.id.in_(chunk))
                ).first()
                if used is not None:
                    raise DataError(f"prediction id {used!r} was observed already")
            s.add_all(
                ObservationRow(
                    id=pid,
                    target=target,
                    time=moment,
                    features=[float(v) for v in row],
                    prediction=pred,
                    score=None if scores is None else float(scores[i]),
                )
                for i, (pid, row, pred) in enumerate(zip(ids, x, predicted, strict=True))
            )
            if who is not None:
                record(s, who, "observations.add", target, {"count": len(ids)})

    # -- labels ---------------------------------------------------------------------------
    def add_labels(self, target: str, pairs: Sequence[tuple[str, Any]]) -> int:
        """Attach true labels to observed predictions; how many were stored."""
        return self.label(target, pairs).labelled

    def label(
        self, target: str, pairs: Sequence[tuple[str, Any]], who: Principal | None = None
    ) -> LabelOutcome:
        """Attach labels by prediction id; unknown ids are reported, the rest stored and
        evaluated (accuracy / AUC windows, the error stream)."""
        watch = self._watch(target)
        wanted = {str(pid): label for pid, label in pairs}
        now = datetime.now(UTC)
        fresh: list[tuple[Any, Any, float | None, float]] = []
        with self.state.store.transaction(f"label {len(wanted)} prediction(s)", write=True) as s:
            rows: list[ObservationRow] = []
            ids = list(wanted)
            for start in range(0, len(ids), CHUNK):
                query = select(ObservationRow).where(
                    ObservationRow.target == target,
                    ObservationRow.id.in_(ids[start : start + CHUNK]),
                )
                rows.extend(s.scalars(query).all())
            for row in rows:
                if row.label is None:
                    fresh.append((row.prediction, wanted[row.id], row.score, row.time.timestamp()))
                row.label = plain(wanted[row.id])
                row.labelled_at = now
            if who is not None:
                record(s, who, "labels.add", target, {"count": len(rows)})
            found = {row.id for row in rows}
        outcome = Outcome()
        classes = watch.reference.classes
        with self._lock:
            for prediction, label, score, when in fresh:
                truth = class_index(label, classes)
                correct = class_index(prediction, classes) == truth
                positive = truth == 1 if watch.reference.binary else None
                outcome.extend(watch.add_labelled(correct, positive, score, when))
        self._emit(target, outcome)
        return LabelOutcome(len(found), [pid for pid in wanted if pid not in found])

    # -- integrity --------------------------------------------------------------------------
    def check_integrity(self, target: str) -> list[GuardEvent]:
        """Hash, signature (when named) and behavioral fingerprint of the target's current
        model; the integrity events of the checks that failed (published too)."""
        reg = self._registration(target)
        state = self._integrity.setdefault(target, _Integrity())
        state.checked_at = time.time()
        path = Path(reg.model_path)
        results: list[iw.IntegrityResult] = []
        if reg.model_sha:
            results.append(iw.check_hash(path, reg.model_sha))
        key, sig = _signature_paths(reg)
        if key is not None:
            results.append(iw.check_signature(path, key, sig))
        hash_ok = all(r.ok for r in results if r.check == iw.HASH)
        results.append(self._behavior(reg, state, hash_ok))
        outcome = Outcome()
        for result in results:
            data = {"check": result.check, "expected": result.expected, "actual": result.actual}
            outcome.points.append(
                Point(
                    f"integrity:{result.check}",
                    float(result.ok),
                    state.checked_at,
                    {**data, "detail": result.detail},
                )
            )
            if not result.ok:
                outcome.signals.append(Signal(INTEGRITY, result.detail, data))
        return self._emit(target, outcome)

    def _behavior(self, reg: _Registration, state: _Integrity, hash_ok: bool) -> iw.IntegrityResult:
        """The fingerprint check; the fingerprint is taken (and kept under home) the first
        time a model version is seen with a matching hash."""
        key = reg.model_sha or "unhashed"
        try:
            target = self._load(reg)
        except RedwatchError as exc:
            return iw.IntegrityResult(
                iw.FINGERPRINT, False, "model loads", "does not load", str(exc)
            )
        fp = state.fingerprints.get(key) or self._stored_fingerprint(reg.name, key)
        if fp is None:
            if not hash_ok:
                return iw.IntegrityResult(
                    iw.FINGERPRINT,
                    False,
                    "fingerprint",
                    "none",
                    "no fingerprint of this model version was taken before it changed",
                )
            fp = iw.take_fingerprint(target, self._watch(reg.name).reference.rows)
            save_fingerprint(fp, self._fingerprint_path(reg.name, key))
        state.fingerprints[key] = fp
        return iw.check_behavior(target, fp)

    def _fingerprint_path(self, name: str, key: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        return self.state.settings.home / "monitor" / safe / f"fingerprint-{key[:16]}.json"

    def _stored_fingerprint(self, name: str, key: str) -> Fingerprint | None:
        path = self._fingerprint_path(name, key)
        if not path.is_file():
            return None
        try:
            return load_fingerprint(path)
        except RedwatchError as exc:
            log.warning("ignoring fingerprint %s: %s", path, exc)
            return None

    # -- reading --------------------------------------------------------------------------
    def summary(
        self, target: str, metric: str | None = None, since: float | None = None
    ) -> dict[str, Any]:
        """The latest point of every metric, the waiting rows and labels, and (with
        `metric`) that metric's series since `since` (epoch seconds)."""
        watch = self._watch(target)
        with self.state.store.transaction(f"read the monitor of {target!r}") as s:
            query = (
                select(MonitorPointRow)
                .where(MonitorPointRow.target == target)
                .order_by(MonitorPointRow.id.desc())
                .limit(5000)
            )
            latest: dict[str, dict[str, Any]] = {}
            for row in s.scalars(query):
                latest.setdefault(row.metric, _point_doc(row))
            series = []
            if metric is not None:
                q = select(MonitorPointRow).where(
                    MonitorPointRow.target == target, MonitorPointRow.metric == metric
                )
                if since is not None:
                    q = q.where(MonitorPointRow.time >= datetime.fromtimestamp(since, UTC))
                series = [
                    _point_doc(r)
                    for r in s.scalars(
                        q.order_by(MonitorPointRow.time, MonitorPointRow.id).limit(10_000)
                    )
                ]
        return {
            "target": target,
            "window": watch.settings.window,
            "pending_rows": watch.pending,
            "waiting_labels": len(watch.labelled),
            "features": watch.reference.baseline.names(),
            "latest": latest,
            "series": series,
        }

    # -- internals --------------------------------------------------------------------------
    def _watch(self, target: str) -> TargetWatch:
        """The target's watch, built from its registration the first time."""
        with self._lock:
            watch = self._watches.get(target)
        if watch is not None:
            return watch
        reg = self._registration(target)
        try:
            model: Target | None = self._load(reg)
        except RedwatchError as exc:
            log.warning("monitor of %s runs without model statistics: %s", target, exc)
            model = None
        data = load_csv(reg.spec["data"], reg.spec.get("label"))
        reference = build_reference(data, model, reg.settings.features)
        with self._lock:
            return self._watches.setdefault(target, TargetWatch(target, reference, reg.settings))

    def _load(self, reg: _Registration) -> Target:
        from redwatch.service.registrations import load_spec_target, spec_of

        with self.state.store.transaction(f"read target {reg.name!r}") as s:
            row = s.get(RegistrationRow, reg.name)
            if row is None:
                raise UnknownTarget(f"target {reg.name!r} is not registered")
            spec = spec_of(row)
        return load_spec_target(spec, reg.model_path)

    def _registered_names(self) -> list[str]:
        with self.state.store.transaction("list registrations") as s:
            return list(s.scalars(select(RegistrationRow.name)).all())

    def _registration(self, name: str) -> _Registration:
        with self.state.store.transaction(f"read target {name!r}") as s:
            row = s.get(RegistrationRow, name)
            if row is None:
                raise UnknownTarget(f"target {name!r} is not registered")
            version = s.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.target == name)
                .order_by(ModelVersionRow.id.desc())
                .limit(1)
            ).first()
            spec, monitor = dict(row.spec or {}), dict(row.monitor or {})
            path = version.path if version is not None else str(spec.get("model", ""))
            sha = version.sha256 if version is not None else row.model_hash
        return _Registration(
            name, {**spec, "monitor": monitor}, MonitorSettings.from_spec(monitor), path, sha
        )

    def _emit(self, target: str, outcome: Outcome) -> list[GuardEvent]:
        """Write the points in one transaction and publish the signals as events."""
        if outcome.points:
            with self.state.store.transaction(
                f"store {len(outcome.points)} monitor point(s)", write=True
            ) as s:
                s.add_all(
                    MonitorPointRow(
                        target=target,
                        time=datetime.fromtimestamp(p.time, UTC),
                        metric=p.metric[:128],
                        value=p.value,
                        data=_json(p.data),
                    )
                    for p in outcome.points
                    if math.isfinite(p.value)
                )
        events = [
            GuardEvent("monitor", sig.kind, Action.ALLOW, sig.detail, "monitor", _json(sig.data))
            for sig in outcome.signals
        ]
        if events:
            self.state.publish(events, target)
        return events


def _signature_paths(reg: _Registration) -> tuple[Path | None, Path | None]:
    """The public key and signature the registration names (spec or monitor block)."""

    def pick(key: str) -> Path | None:
        value = reg.spec.get(key) or reg.spec["monitor"].get(key)
        return Path(str(value)) if value else None

    return pick("public_key"), pick("signature")


def _checked_batch(
    width: int,
    rows: np.ndarray,
    proba: np.ndarray | None,
    predicted: np.ndarray,
    ids: Sequence[str] | None,
) -> tuple[np.ndarray, np.ndarray | None, list[Any], list[str]]:
    """The batch as arrays and lists; DataError naming the first problem."""
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise DataError("instances must be a non-empty list of rows")
    if x.shape[1] != width:
        raise DataError(f"instances have {x.shape[1]} columns, the target has {width}")
    if not np.all(np.isfinite(x)):
        raise DataError("instances contain NaN or infinite values")
    p = None
    if proba is not None:
        p = np.asarray(proba, dtype=np.float64)
        if p.ndim != 2 or len(p) != len(x) or p.shape[1] < 2 or not np.all(np.isfinite(p)):
            raise DataError(f"proba must be {len(x)} finite rows of at least 2 class scores")
    pred = [plain(v) for v in np.asarray(predicted, dtype=object).ravel()]
    if len(pred) != len(x):
        raise DataError(f"{len(x)} instances need {len(x)} predicted labels, got {len(pred)}")
    id_list = [uuid.uuid4().hex for _ in pred] if ids is None else [str(i) for i in ids]
    if len(id_list) != len(x) or len(set(id_list)) != len(id_list):
        raise DataError(f"ids must be {len(x)} distinct prediction ids")
    if any(not 0 < len(i) <= MAX_ID for i in id_list):
        raise DataError(f"a prediction id must be 1 to {MAX_ID} characters")
    return x, p, pred, id_list


def _json(value: Any) -> Any:
    """`value` with numpy scalars unwrapped and non-finite floats as None (JSON columns)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _point_doc(row: MonitorPointRow) -> dict[str, Any]:
    from redwatch.store.views import iso

    return {"metric": row.metric, "time": iso(row.time), "value": row.value, "data": row.data}


def build_monitor(state: ServiceState) -> MonitorHub:
    """The service's monitor (a PARTS entry of create_app)."""
    return MonitorHub(state)
