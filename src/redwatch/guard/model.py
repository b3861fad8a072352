"""GuardedModel: the in-process deployment, the same pipeline around a model's own
predict / predict_proba. A blocked call raises GuardBlocked; events go to an optional sink."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.guard.context import StageContext
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.policy import Policy, default_policy
from redwatch.guard.stage import (
    Action,
    GuardBlocked,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    GuardStage,
)
from redwatch.targets.spec import InputSpec

EventSink = Callable[[list[GuardEvent]], None]


class GuardedModel:
    """Wraps a fitted model (scikit-learn API) so that every call passes the guard.

    `policy` None means default_policy(); `reference` holds clean rows that detectors
    calibrate on (a policy may name a file instead); `stages` None reads the registered
    stages; `sink` receives each call's events (e.g. an EventRecorder); the last call's
    events are also kept in `last_events`. Stages are built on the first call or `build()`.
    """

    def __init__(
        self,
        model: Any,
        policy: Policy | None = None,
        spec: InputSpec | None = None,
        *,
        reference: np.ndarray | None = None,
        stages: Mapping[str, type[GuardStage]] | None = None,
        sink: EventSink | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.policy = policy or default_policy()
        self.spec = spec
        self.reference = reference
        self.stage_table = stages
        self.base_dir = base_dir
        self.sink = sink
        self.last_events: list[GuardEvent] = []

    @cached_property
    def pipeline(self) -> GuardPipeline:
        """The policy's pipeline with a context that knows this model."""
        proba = getattr(self.model, "predict_proba", None)
        context = StageContext(
            spec=self.spec,
            predict_proba=None if proba is None else _float_proba(proba),
            classes=self.classes_,
            reference=self.reference,
            base_dir=self.base_dir or Path.cwd(),
        )
        return GuardPipeline(self.policy, context, self.stage_table)

    def build(self) -> GuardedModel:
        """Build (and calibrate) every stage now, so that errors surface before serving."""
        _ = self.pipeline.stages
        return self

    @property
    def classes_(self) -> np.ndarray | None:
        """The wrapped model's classes, when it has them."""
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else np.asarray(classes)

    def predict(self, x: Any, *, client: str = "local", key: str | None = None) -> np.ndarray:
        """Guarded labels."""
        return self._call(x, client, key, proba=False).labels

    def predict_proba(self, x: Any, *, client: str = "local", key: str | None = None) -> np.ndarray:
        """Guarded probabilities (after the output stages)."""
        response = self._call(x, client, key, proba=True)
        assert response.proba is not None
        return response.proba

    def _call(self, x: Any, client: str, key: str | None, *, proba: bool) -> GuardResponse:
        """Request stages, the model, response stages; events to the sink either way."""
        events: list[GuardEvent] = []
        try:
            rows = _as_rows(x, client)
            method = "predict_proba" if proba else "predict"
            request = GuardRequest(rows, client, key, payload_bytes=rows.nbytes, method=method)
            request, events = self.pipeline.on_request(request)
            response = self._model_response(request.rows, proba)
            response, after = self.pipeline.on_response(request, response)
            events.extend(after)
            return response
        except GuardBlocked as exc:
            events.extend(exc.events)
            raise
        finally:
            self._emit(events)

    def _model_response(self, rows: np.ndarray, proba: bool) -> GuardResponse:
        """Ask the wrapped model; labels follow the probabilities when both are needed."""
        if not proba:
            return GuardResponse(labels=np.asarray(self.model.predict(rows)))
        scores = np.asarray(self.model.predict_proba(rows), dtype=np.float64)
        classes = self.classes_
        labels = classes[scores.argmax(axis=1)] if classes is not None else scores.argmax(axis=1)
        return GuardResponse(labels=labels, proba=scores, classes=classes)

    def _emit(self, events: list[GuardEvent]) -> None:
        """Keep the events and hand them to the sink, if any."""
        self.last_events = events
        if self.sink is not None and events:
            self.sink(events)


def _float_proba(method: Callable[[Any], Any]) -> Callable[[np.ndarray], np.ndarray]:
    """The model's predict_proba as float64 rows -> float64 probabilities."""

    def proba(rows: np.ndarray) -> np.ndarray:
        return np.asarray(method(rows), dtype=np.float64)

    return proba


def _as_rows(x: Any, client: str) -> np.ndarray:
    """The input as a float array; GuardBlocked (400, with its event) when it is not numeric."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        reason = f"input is not a numeric array ({type(exc).__name__})"
        event = GuardEvent("guard", "invalid_input", Action.BLOCK, reason, client, {"status": 400})
        raise GuardBlocked(reason, 400, "guard", (event,)) from None
