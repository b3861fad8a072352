"""/api/v1/targets/{name}/observations, /labels and /monitor: an external guard reports the
predictions it served, labels arrive later by prediction id, and anyone with a key reads the
monitor's latest values and chart series."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from redwatch.exceptions import DataError
from redwatch.service.auth import Analyst, Viewer
from redwatch.service.monitor_hub import MonitorHub, UnknownTarget
from redwatch.service.state import ServiceState, State

router = APIRouter(tags=["monitor"])
MAX_BATCH = 10_000


class Observations(BaseModel):
    """Predictions a guard served: input rows, optional class scores, the answers, optional
    prediction ids (generated otherwise) and the serving time (epoch seconds, default now)."""

    model_config = ConfigDict(extra="forbid")

    instances: list[list[float]] = Field(min_length=1, max_length=MAX_BATCH)
    proba: list[list[float]] | None = None
    predicted: list[Any] = Field(min_length=1, max_length=MAX_BATCH)
    ids: list[str] | None = None
    time: float | None = None


class Label(BaseModel):
    """The true label of one observed prediction."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    label: Any


class Labels(BaseModel):
    """A batch of late labels."""

    model_config = ConfigDict(extra="forbid")

    labels: list[Label] = Field(min_length=1, max_length=MAX_BATCH)


def _hub(state: ServiceState) -> MonitorHub:
    """The running monitor, or 503."""
    if state.monitor is None:
        raise HTTPException(503, "the monitor is not running")
    return state.monitor


@router.post("/targets/{name}/observations", status_code=201)
def post_observations(name: str, body: Observations, who: Analyst, state: State) -> dict[str, Any]:
    """Record served predictions; 404 for an unknown target, 422 for bad rows."""
    hub = _hub(state)
    proba = None if body.proba is None else np.asarray(body.proba, dtype=np.float64)
    try:
        ids = hub.observe(
            name,
            _rows(body.instances),
            proba,
            np.asarray(body.predicted, dtype=object),
            body.ids,
            body.time,
            who=who,
        )
    except UnknownTarget as exc:
        raise HTTPException(404, str(exc)) from None
    except DataError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"target": name, "observed": len(ids), "ids": ids}


@router.post("/targets/{name}/labels")
def post_labels(name: str, body: Labels, who: Analyst, state: State) -> dict[str, Any]:
    """Attach true labels by prediction id; unknown ids are counted and listed (first 100)."""
    hub = _hub(state)
    try:
        outcome = hub.label(name, [(item.id, item.label) for item in body.labels], who=who)
    except UnknownTarget as exc:
        raise HTTPException(404, str(exc)) from None
    except DataError as exc:
        raise HTTPException(422, str(exc)) from None
    return {
        "target": name,
        "labelled": outcome.labelled,
        "unknown": len(outcome.unknown),
        "unknown_ids": outcome.unknown[:100],
    }


@router.get("/targets/{name}/monitor")
def get_monitor(
    name: str,
    who: Viewer,
    state: State,
    metric: str | None = None,
    since: float | None = None,
) -> dict[str, Any]:
    """Latest value of every monitor metric; with ?metric= its series (?since= epoch s)."""
    try:
        return _hub(state).summary(name, metric, since)
    except UnknownTarget as exc:
        raise HTTPException(404, str(exc)) from None


def _rows(instances: list[list[float]]) -> np.ndarray:
    """The instances as a 2-D array; DataError (422) when rows differ in length."""
    widths = {len(row) for row in instances}
    if len(widths) != 1:
        raise HTTPException(422, "instances: every row must have the same number of values")
    return np.asarray(instances, dtype=np.float64)
