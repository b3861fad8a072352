"""GuardCache: the in-service guard. Each registered target's current model, loaded through
the safe loader, is wrapped in a GuardedModel running the target's active guard policy (the
default policy when none is active) and calibrated on the registration's data. Guards are
built on first use and kept until `invalidate(target)` (a policy activation, a new model).

Every call's events go to the event hub with the target as source, and every answered
batch to the monitor, exactly as traffic through an external guard would."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from redwatch.engine.campaign import ScanOptions, build_spec
from redwatch.engine.data import align, load_csv
from redwatch.exceptions import UsageError
from redwatch.guard.http.exchange import proxy_event
from redwatch.guard.http.protocol import HttpError
from redwatch.guard.http.serve import LocalModel
from redwatch.guard.model import GuardedModel
from redwatch.guard.policy import Policy, default_policy, parse_policy
from redwatch.guard.served import served_model
from redwatch.guard.stage import GuardBlocked, GuardEvent, GuardRequest, GuardResponse
from redwatch.service.policies import UnknownTarget, active_policy
from redwatch.service.registrations import current_model
from redwatch.store.repository import Store
from redwatch.store.service_models import RegistrationRow
from redwatch.targets.base import Target
from redwatch.targets.loading import load_target
from redwatch.targets.spec import InputSpec

if TYPE_CHECKING:
    from redwatch.service.state import ServiceState

log = logging.getLogger("redwatch.service.guards")
MAX_REFERENCE_ROWS = 2000


@dataclass(frozen=True)
class LoadedTarget:
    """A registered target ready to guard: the loaded model, the file it came from, the
    InputSpec of its data and clean reference rows (detector calibration, replays)."""

    name: str
    target: Target
    model_path: str
    spec: InputSpec
    reference: np.ndarray


@dataclass
class _Entry:
    """One target's built guard, the backend answering behind it, and a lock: stages keep
    per-client state, so calls to one target pass its pipeline one at a time."""

    guarded: GuardedModel
    local: LocalModel
    policy_id: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)


def registration_spec(store: Store, name: str) -> dict[str, Any]:
    """The registration's spec (model, data, label, trust_model, ...); UnknownTarget."""
    with store.transaction(f"read the registration of {name}") as session:
        row = session.get(RegistrationRow, name)
        if row is None:
            raise UnknownTarget(f"no registered target {name}")
        return dict(row.spec)


def current_model_path(store: Store, name: str, spec: dict[str, Any]) -> str:
    """The file the service loads for `name`: its newest registered model version."""
    return str(current_model(store, name) or spec["model"])


def load_registered(store: Store, name: str) -> LoadedTarget:
    """Load `name`'s current model (scanned first) and its data's spec and reference rows;
    TargetError/DataError naming the problem."""
    spec = registration_spec(store, name)
    path = current_model_path(store, name, spec)
    shape = tuple(spec["input_shape"]) if spec.get("input_shape") else None
    target = load_target(
        path,
        name=name,
        trust_model=bool(spec.get("trust_model", False)),
        model_class=spec.get("model_class"),
        input_shape=shape,
    )
    data = align(
        load_csv(Path(spec["data"]), spec.get("label")), target.feature_names, target.n_features
    )
    if len(data.x) > MAX_REFERENCE_ROWS:
        keep = np.random.default_rng(0).permutation(len(data.x))[:MAX_REFERENCE_ROWS]
        data = data.take(np.sort(keep))
    input_spec = build_spec(data, ScanOptions(out_dir=Path("."), image_shape=shape))
    return LoadedTarget(name, target, path, input_spec, data.x)


class GuardCache:
    """Guards per registered target, built on first use (see the module docstring)."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Nothing to start: guards are built on the first call for each target."""

    def close(self) -> None:
        """Drop every guard and stop background mitigations (hardening runs)."""
        with self._lock:
            self._entries.clear()
        from redwatch.service.feedback import close_background

        close_background(self.state)

    def invalidate(self, target: str) -> None:
        """Forget `target`'s guard: the next call rebuilds it with the active policy and
        the current model."""
        with self._lock:
            self._entries.pop(target, None)

    def guarded(self, target: str) -> GuardedModel:
        """The target's guard (built now when needed)."""
        return self._entry(target).guarded

    def check(self, target: str, policy: Policy) -> None:
        """Build (and calibrate) `policy` on the target's model and data without serving
        it: UsageError/DataError naming a bad stage or option before it is stored."""
        loaded = load_registered(self.state.store, target)
        self.build(loaded, policy)

    def build(self, loaded: LoadedTarget, policy: Policy) -> GuardedModel:
        """A GuardedModel of `loaded` running `policy`, built now."""
        return GuardedModel(
            served_model(loaded.target),
            policy,
            loaded.spec,
            reference=loaded.reference,
            base_dir=self.state.settings.home,
        ).build()

    def predict(
        self,
        target: str,
        rows: np.ndarray,
        method: str,
        client: str,
        key: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> GuardResponse:
        """One guarded call: GuardBlocked or HttpError for a refusal (its events are
        published either way); the answer is observed by the monitor."""
        if ids is not None and len(ids) != len(rows):
            raise HttpError(f'"ids" has {len(ids)} values for {len(rows)} instances', 400)
        entry = self._entry(target)
        events: list[GuardEvent] = []
        try:
            with entry.lock:
                response = _call(entry, rows, method, client, key, events)
        except GuardBlocked as exc:
            events.extend(exc.events)
            raise
        except HttpError as exc:
            events.append(proxy_event(exc, client))
            raise
        finally:
            self._publish(target, events)
        self._observe(target, rows, response, ids)
        return response

    def _entry(self, target: str) -> _Entry:
        """The cached guard of `target`, built outside the lock on a miss."""
        with self._lock:
            entry = self._entries.get(target)
        if entry is not None:
            return entry
        store = self.state.store
        loaded = load_registered(store, target)
        active = active_policy(store, target)
        policy = default_policy()
        if active is not None:
            policy = parse_policy(active["document"], f"guard policy {active['id']}")
        guarded = self.build(loaded, policy)
        built = _Entry(guarded, LocalModel(guarded.model), None if not active else active["id"])
        with self._lock:
            return self._entries.setdefault(target, built)

    def _publish(self, target: str, events: list[GuardEvent]) -> None:
        """Hand the call's events to the event hub (the store directly without one)."""
        if not events:
            return
        try:
            self.state.publish(events, target)
        except Exception:
            log.exception("could not record %d guard event(s) of %s", len(events), target)

    def _observe(
        self, target: str, rows: np.ndarray, response: GuardResponse, ids: Sequence[str] | None
    ) -> None:
        """Report the answered batch to the monitor, when one runs."""
        monitor = self.state.monitor
        if monitor is None:
            return
        try:
            monitor.observe(target, rows, response.proba, response.labels, ids=ids)
        except Exception:
            log.exception("could not record %d observation(s) of %s", len(rows), target)


def _call(
    entry: _Entry,
    rows: np.ndarray,
    method: str,
    client: str,
    key: str | None,
    events: list[GuardEvent],
) -> GuardResponse:
    """Request stages, the model, response stages (the guard proxy's order and checks)."""
    if method not in ("predict", "predict_proba"):
        raise UsageError(f"unknown method {method!r}")
    pipeline = entry.guarded.pipeline
    request = GuardRequest(rows, client, key, payload_bytes=rows.nbytes, method=method)
    request, before = pipeline.on_request(request)
    events.extend(before)
    response = entry.local.answer(request.rows, method)
    response, after = pipeline.on_response(request, response)
    events.extend(after)
    return response


def build_guards(state: ServiceState) -> GuardCache:
    """The part that app.py builds (PARTS entry `guards`)."""
    return GuardCache(state)
