"""Registered targets: what the service scans, guards and monitors. A registration holds the
spec (model file, data, label, probes, budget), a schedule and the model versions; it is
only stored once the model loads through the safe loader and the data has the label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from redwatch.engine.data import align, load_csv
from redwatch.engine.planner import available_probes
from redwatch.engine.scheduler import Schedule
from redwatch.exceptions import DataError, RedwatchError, TargetError, UsageError, first_line
from redwatch.integrity.digest import sha256_file
from redwatch.service.audit_log import record
from redwatch.service.keys import Principal
from redwatch.store.models import utcnow
from redwatch.store.repository import Store
from redwatch.store.service_models import JobRow, ModelVersionRow, RegistrationRow
from redwatch.store.views import iso
from redwatch.targets.base import Target
from redwatch.targets.loading import load_target

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class ScheduleSpec(BaseModel):
    """When campaigns run: every `interval_s` seconds (10 or more) or on a cron line (UTC)."""

    model_config = ConfigDict(extra="forbid")

    interval_s: float | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> ScheduleSpec:
        """Exactly one of the two, and a valid one."""
        try:
            self.schedule().check()
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return self

    def schedule(self) -> Schedule:
        """The pure scheduling rule of this spec."""
        return Schedule(self.interval_s, self.cron)


class MonitorSpec(BaseModel):
    """How the monitor watches guarded traffic: window sizes, the features to test, and how
    often to check the artifact (hash, signature when a key is named, fingerprint)."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(default=500, ge=10, le=1_000_000)
    features: list[str] | None = None
    label_window: int | None = Field(default=None, ge=10, le=1_000_000)
    integrity_every_s: float = Field(default=300.0, ge=1, le=86_400 * 7)
    public_key: str | None = Field(default=None, description="PEM on the server's disk")
    signature: str | None = Field(default=None, description="signature file of the model")


class TargetSpec(BaseModel):
    """A target to register: how to load and scan it, when, and how to monitor it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    model: str = Field(min_length=1, description="model file on the server's disk")
    data: str = Field(min_length=1, description="CSV file on the server's disk")
    label: str = Field(min_length=1)
    probes: list[str] | None = None
    budget_queries: int | None = Field(default=None, ge=1)
    budget_seconds: float | None = Field(default=300.0, gt=0, le=86_400)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model_class: str | None = None
    input_shape: list[int] | None = None
    trust_model: bool = False
    seed: int = Field(default=0, ge=0)
    schedule: ScheduleSpec | None = None
    monitor: MonitorSpec = Field(default_factory=MonitorSpec)

    def shape(self) -> tuple[int, ...] | None:
        """input_shape as a tuple."""
        return tuple(self.input_shape) if self.input_shape else None


def load_spec_target(spec: TargetSpec, model_path: str | Path) -> Target:
    """Load a model file of this target through the safe loader (it scans pickles first)."""
    path = Path(model_path)
    if not path.is_file():
        raise TargetError(f"model file not found: {path}")
    return load_target(
        str(path),
        name=spec.name,
        trust_model=spec.trust_model,
        model_class=spec.model_class,
        input_shape=spec.shape(),
    )


def check_probes(names: list[str]) -> None:
    """UsageError naming the probes that are not installed."""
    known = available_probes()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"unknown probe(s): {', '.join(unknown)}; known: {', '.join(known)}")


def check_spec(spec: TargetSpec) -> TargetSpec:
    """The spec with absolute paths once its probes exist, its model loads and answers rows
    of its data; a one-line RedwatchError naming the problem otherwise."""
    check_probes([*(spec.probes or []), *spec.params])
    model, data = Path(spec.model).expanduser().resolve(), Path(spec.data).expanduser().resolve()
    target = load_spec_target(spec, model)
    dataset = load_csv(data, spec.label)
    _check_fit(target, dataset)
    return spec.model_copy(update={"model": str(model), "data": str(data)})


def _check_fit(target: Target, dataset: Any) -> None:
    """DataError when the model rejects the first rows of the data."""
    aligned = align(dataset, target.feature_names, target.n_features)
    try:
        target.predict(aligned.x[:5])
    except RedwatchError:
        raise
    except Exception as exc:  # the model library rejected the rows
        raise DataError(
            f"model rejected the data from {dataset.source}: {first_line(exc)}"
        ) from None


def register(store: Store, who: Principal, body: TargetSpec) -> dict[str, Any]:
    """Validate and store a new registration with its first model version."""
    spec = check_spec(body)
    sha = sha256_file(Path(spec.model))
    now = utcnow()
    with store.transaction(f"register target {spec.name!r}", write=True) as session:
        if session.get(RegistrationRow, spec.name) is not None:
            raise UsageError(f"target {spec.name!r} is already registered")
        row = RegistrationRow(
            name=spec.name,
            spec=spec.model_dump(mode="json", exclude={"schedule", "monitor"}),
            interval_s=spec.schedule.interval_s if spec.schedule else None,
            cron=spec.schedule.cron if spec.schedule else None,
            model_hash=sha,
            model_version="1",
            next_run_at=now if spec.schedule else None,
            paused=False,
            monitor=spec.monitor.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.add(_version_row(spec.name, "1", Path(spec.model), sha, "registration", {}))
        record(session, who, "targets.register", spec.name, {"model": spec.model, "sha256": sha})
        session.flush()
        return registration_document(session, row)


def _version_row(
    target: str, version: str, path: Path, sha: str, source: str, data: dict[str, Any]
) -> ModelVersionRow:
    """A model version row stamped now."""
    return ModelVersionRow(
        target=target,
        version=version,
        path=str(path),
        sha256=sha,
        source=source[:64],
        created_at=utcnow(),
        data=data,
    )


def spec_of(row: RegistrationRow) -> TargetSpec:
    """The stored spec of a registration, schedule and monitor settings included."""
    schedule = (
        ScheduleSpec(interval_s=row.interval_s, cron=row.cron)
        if row.interval_s is not None or row.cron is not None
        else None
    )
    return TargetSpec.model_validate(
        {**row.spec, "schedule": schedule, "monitor": MonitorSpec(**(row.monitor or {}))}
    )


def get_spec(store: Store, name: str) -> TargetSpec | None:
    """The spec of a registered target, or None."""
    with store.transaction(f"read target {name!r}") as session:
        row = session.get(RegistrationRow, name)
        return spec_of(row) if row is not None else None


def registration_document(session: Session, row: RegistrationRow) -> dict[str, Any]:
    """A registration as the API shows it, with its current model version."""
    current = _newest_version(session, row.name)
    return {
        "name": row.name,
        "spec": row.spec,
        "schedule": (
            {"interval_s": row.interval_s, "cron": row.cron}
            if row.interval_s is not None or row.cron is not None
            else None
        ),
        "paused": row.paused,
        "next_run_at": iso(row.next_run_at),
        "model_hash": row.model_hash,
        "model_version": row.model_version,
        "current_model": version_document(current) if current is not None else None,
        "monitor": row.monitor,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def get_registration(store: Store, name: str) -> dict[str, Any] | None:
    """One registration, or None."""
    with store.transaction(f"read target {name!r}") as session:
        row = session.get(RegistrationRow, name)
        return registration_document(session, row) if row is not None else None


def list_registrations(store: Store) -> list[dict[str, Any]]:
    """Every registration, by name."""
    with store.transaction("list targets") as session:
        rows = session.scalars(select(RegistrationRow).order_by(RegistrationRow.name)).all()
        return [registration_document(session, row) for row in rows]


def update_schedule(
    store: Store,
    who: Principal,
    name: str,
    *,
    schedule: ScheduleSpec | None = None,
    set_schedule: bool = False,
    paused: bool | None = None,
) -> dict[str, Any] | None:
    """Change the schedule (`set_schedule`; None removes it) and/or pause or resume; None
    when the target is not registered."""
    with store.transaction(f"update target {name!r}", write=True) as session:
        row = session.get(RegistrationRow, name)
        if row is None:
            return None
        now = utcnow()
        if set_schedule:
            row.interval_s = schedule.interval_s if schedule else None
            row.cron = schedule.cron if schedule else None
            row.next_run_at = schedule.schedule().next_due(now) if schedule else None
        if paused is not None:
            row.paused = paused
        row.updated_at = now
        detail = {"schedule": registration_document(session, row)["schedule"], "paused": row.paused}
        record(session, who, "targets.update", name, detail)
        return registration_document(session, row)


def delete_registration(store: Store, who: Principal, name: str) -> dict[str, Any] | None:
    """Remove a registration and its model versions; its queued jobs fail with "target
    deleted". Campaigns and findings stay in the store. None when it is not registered."""
    with store.transaction(f"delete target {name!r}", write=True) as session:
        row = session.get(RegistrationRow, name)
        if row is None:
            return None
        document = registration_document(session, row)
        session.execute(
            update(JobRow)
            .where(JobRow.target == name, JobRow.status == "queued")
            .values(status="failed", error="target deleted", finished_at=utcnow())
        )
        session.execute(delete(ModelVersionRow).where(ModelVersionRow.target == name))
        session.delete(row)
        record(session, who, "targets.delete", name, {"model": row.spec.get("model")})
        return document


def add_model_version(
    store: Store,
    who: Principal,
    target: str,
    path: Path,
    source: str = "upload",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Register a new model file for `target` (it must load like the first one). The
    newest version is the one loaded; the bump clears the seen hash so that the next
    scheduler tick enqueues a `model_change` campaign."""
    spec = get_spec(store, target)
    if spec is None:
        raise UsageError(f"target {target!r} is not registered")
    path = Path(path).expanduser().resolve()
    load_spec_target(spec, path)
    sha = sha256_file(path)
    with store.transaction(f"add a model version to {target!r}", write=True) as session:
        row = session.get(RegistrationRow, target)
        if row is None:
            raise UsageError(f"target {target!r} is not registered")
        last = session.scalar(
            select(func.count())
            .select_from(ModelVersionRow)
            .where(ModelVersionRow.target == target)
        )
        version = str(int(last or 0) + 1)
        added = _version_row(target, version, path, sha, source, dict(data or {}))
        session.add(added)
        row.model_version = version
        row.model_hash = None
        row.updated_at = utcnow()
        record(session, who, "targets.model_version", target, {"version": version, "sha256": sha})
        session.flush()
        return version_document(added)


def version_document(row: ModelVersionRow) -> dict[str, Any]:
    """A model version as the API shows it."""
    return {
        "target": row.target,
        "version": row.version,
        "path": row.path,
        "sha256": row.sha256,
        "source": row.source,
        "created_at": iso(row.created_at),
        "data": row.data,
    }


def _newest_version(session: Session, target: str) -> ModelVersionRow | None:
    """The most recently registered model version of a target."""
    return session.scalars(
        select(ModelVersionRow)
        .where(ModelVersionRow.target == target)
        .order_by(ModelVersionRow.id.desc())
        .limit(1)
    ).first()


def list_model_versions(store: Store, target: str) -> list[dict[str, Any]]:
    """A target's model versions, newest first."""
    with store.transaction(f"list model versions of {target!r}") as session:
        rows = session.scalars(
            select(ModelVersionRow)
            .where(ModelVersionRow.target == target)
            .order_by(ModelVersionRow.id.desc())
        ).all()
        return [version_document(row) for row in rows]


def current_model(store: Store, target: str) -> str:
    """Path of the model file the service loads for `target` (its newest version)."""
    with store.transaction(f"read the current model of {target!r}") as session:
        row = _newest_version(session, target)
        if row is None:
            raise UsageError(f"target {target!r} is not registered")
        return row.path
