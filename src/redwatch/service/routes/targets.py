"""/api/v1/targets: register targets (model, data, probes, schedule), list and inspect
them, change their schedule or pause them, add model versions, trigger a campaign, and
delete them (admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from redwatch.service import jobs, registrations
from redwatch.service.audit_log import audited
from redwatch.service.auth import Admin, Analyst, Viewer
from redwatch.service.keys import Principal
from redwatch.service.registrations import ScheduleSpec, TargetSpec
from redwatch.service.state import ServiceState, State
from redwatch.service.worker import JobOptions

router = APIRouter(tags=["targets"])


class TargetChange(BaseModel):
    """A new schedule (null removes it) and/or pausing or resuming automatic campaigns."""

    model_config = ConfigDict(extra="forbid")

    schedule: ScheduleSpec | None = None
    paused: bool | None = None


class NewModel(BaseModel):
    """A model file on the server's disk to register as the target's newest version."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    source: str = Field(default="upload", min_length=1, max_length=64)


def known_target(state: ServiceState, name: str) -> dict[str, Any]:
    """The registration, or 404 (shared by the routes under /targets/{name})."""
    found = registrations.get_registration(state.store, name)
    if found is None:
        raise HTTPException(404, f"no registered target {name}")
    return found


def allowed_path(state: ServiceState, text: str) -> None:
    """403 unless the file lies under the service's --files-root (when one is set), so an
    API key cannot make the service read files it was not meant to serve."""
    root = state.settings.files_root
    if root is None:
        return
    resolved = Path(text).expanduser().resolve()
    if not resolved.is_relative_to(root.expanduser().resolve()):
        raise HTTPException(403, f"{text} is outside the service's files root {root}")


def may_trust(who: Principal, trusted: bool) -> None:
    """403 unless an admin asks: a trusted model is unpickled without the safety scan's
    veto, which is code execution on the server for whoever names the file."""
    if trusted and not who.can("admin"):
        raise HTTPException(403, "trust_model needs an admin key (it skips the pickle veto)")


@router.post("/targets", status_code=201)
def register_target(body: TargetSpec, who: Analyst, state: State) -> dict[str, Any]:
    """Register a target; 400 when its model does not load or its data lacks the label."""
    may_trust(who, body.trust_model)
    for path in (body.model, body.data, body.monitor.public_key, body.monitor.signature):
        if path is not None:
            allowed_path(state, path)
    if registrations.get_registration(state.store, body.name) is not None:
        raise HTTPException(409, f"target {body.name} is already registered")
    return registrations.register(state.store, who, body)


@router.get("/targets")
def list_targets(who: Viewer, state: State) -> list[dict[str, Any]]:
    """Every registered target with its schedule and current model."""
    return registrations.list_registrations(state.store)


@router.get("/targets/{name}")
def get_target(name: str, who: Viewer, state: State) -> dict[str, Any]:
    """One registered target."""
    return known_target(state, name)


@router.patch("/targets/{name}")
def change_target(name: str, body: TargetChange, who: Analyst, state: State) -> dict[str, Any]:
    """Set or remove the schedule, pause or resume."""
    if not body.model_fields_set:
        raise HTTPException(422, "nothing to change: send schedule and/or paused")
    changed = registrations.update_schedule(
        state.store,
        who,
        name,
        schedule=body.schedule,
        set_schedule="schedule" in body.model_fields_set,
        paused=body.paused,
    )
    if changed is None:
        raise HTTPException(404, f"no registered target {name}")
    return changed


@router.delete("/targets/{name}")
def delete_target(name: str, who: Admin, state: State) -> dict[str, Any]:
    """Forget a target (its campaigns and findings stay); queued jobs fail."""
    deleted = registrations.delete_registration(state.store, who, name)
    if deleted is None:
        raise HTTPException(404, f"no registered target {name}")
    state.refresh_guard(name)
    return deleted


@router.post("/targets/{name}/models", status_code=201)
def add_model(name: str, body: NewModel, who: Analyst, state: State) -> dict[str, Any]:
    """Register a new model version; the next scheduler tick queues a model_change scan."""
    found = known_target(state, name)
    may_trust(who, bool(found["spec"].get("trust_model")))
    allowed_path(state, body.path)
    version = registrations.add_model_version(
        state.store, who, name, Path(body.path), body.source, {}
    )
    state.refresh_guard(name)
    return version


@router.get("/targets/{name}/models")
def list_models(name: str, who: Viewer, state: State) -> list[dict[str, Any]]:
    """The target's model versions, newest first."""
    known_target(state, name)
    return registrations.list_model_versions(state.store, name)


@router.post("/targets/{name}/campaigns", status_code=202)
def trigger_campaign(
    name: str, who: Analyst, state: State, body: Annotated[JobOptions | None, Body()] = None
) -> dict[str, Any]:
    """Queue a manual campaign (optionally narrowing probes or budget); the job."""
    known_target(state, name)
    options = body.model_dump(exclude_none=True) if body is not None else {}
    registrations.check_probes([*options.get("probes", []), *options.get("params", {})])
    if state.worker is not None:
        job_id = state.worker.enqueue(name, "manual", options=options)
        job = jobs.get_job(state.store, job_id)
    else:
        job = jobs.enqueue(state.store, name, "manual", options=options)
    if job is None:
        raise HTTPException(503, f"job for {name} vanished")
    audited(state.store, who, "targets.trigger", name, {"job": job["id"], **options})
    return job
