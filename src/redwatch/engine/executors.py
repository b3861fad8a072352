"""Executors: where a campaign's probe jobs run. A job is a pure function of (target, data,
planned probe, seed) returning the probe's record and findings, so it can run in this
process (LocalExecutor) or as a Ray task on a local instance or a cluster (RayExecutor)."""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from redwatch.exceptions import (
    QueryBudgetExceeded,
    RedwatchError,
    TargetError,
    UsageError,
    first_line,
)
from redwatch.findings import Finding
from redwatch.probes.base import ProbeContext, ProgressFn
from redwatch.results import ProbeRun
from redwatch.targets.base import Target

if TYPE_CHECKING:
    from redwatch.engine.planner import PlannedProbe
    from redwatch.engine.runner import CampaignInput

ProgressFactory = Callable[[str], Any]
EXECUTORS = ("local", "ray")
CONNECT_TIMEOUT_S = 5.0


@dataclass
class ProbeOutcome:
    """What one probe job returns: its record and the findings it made."""

    run: ProbeRun
    findings: list[Finding]


def run_probe_job(
    target: Target,
    data: CampaignInput,
    planned: PlannedProbe,
    seed: int,
    report: ProgressFn | None = None,
) -> ProbeOutcome:
    """Run one probe within its budget and count its own queries; an error in one probe
    never sinks the campaign. Touches nothing but the target's counter, so it can run
    anywhere the target and data were copied to."""
    report = report or _silent
    name = planned.probe.name
    ctx = ProbeContext(
        x=data.x,
        y=data.y,
        budget=planned.budget,
        seed=seed,
        params=planned.params,
        progress=report,
        artifact=data.artifact,
        sensitive=data.sensitive,
    )
    q0, t0 = target.queries, time.monotonic()
    status, message, found = "ok", "", []
    try:
        with target.limit(planned.budget.queries):
            found = list(planned.probe().run(target, ctx))
    except QueryBudgetExceeded as exc:
        status, message = "budget", str(exc)
    except RedwatchError as exc:
        status, message = "error", str(exc)
    except Exception as exc:  # a probe bug: record it, keep the campaign going
        status, message = "error", f"{type(exc).__name__}: {first_line(exc)}"
        if os.environ.get("REDWATCH_DEBUG"):
            traceback.print_exc()
    report(1.0, status)
    seconds, queries = time.monotonic() - t0, target.queries - q0
    return ProbeOutcome(ProbeRun(name, status, seconds, queries, message, dict(ctx.metrics)), found)


class Executor(Protocol):
    """Runs a campaign's probe jobs and returns their outcomes in plan order.
    `in_process` says whether the target's own query counter saw the queries."""

    in_process: bool

    def run(
        self,
        target: Target,
        data: CampaignInput,
        probes: Sequence[PlannedProbe],
        seed: int,
        progress: ProgressFactory | None = None,
    ) -> list[ProbeOutcome]:
        """Run one job per planned probe."""
        ...


class LocalExecutor:
    """Runs probes one after another in this process, with live progress per probe."""

    in_process = True

    def run(
        self,
        target: Target,
        data: CampaignInput,
        probes: Sequence[PlannedProbe],
        seed: int,
        progress: ProgressFactory | None = None,
    ) -> list[ProbeOutcome]:
        """Run each job in plan order."""
        outcomes = []
        for planned in probes:
            with _progress(progress, planned.probe.name) as report:
                outcomes.append(self.job(target, data, planned, seed, report))
        return outcomes

    def job(
        self,
        target: Target,
        data: CampaignInput,
        planned: PlannedProbe,
        seed: int,
        report: ProgressFn,
    ) -> ProbeOutcome:
        """One probe's job on `target` (a hook for executors that run it elsewhere)."""
        return run_probe_job(target, data, planned, seed, report)


class RayExecutor:
    """Runs one Ray task per probe: on a local instance it starts itself (address None) or
    on a running cluster (`host:port`, `ray://host:port`, `auto`). Evidence and reports are
    still written by the driver from the findings the tasks return."""

    in_process = False

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus

    def check(self) -> None:
        """UsageError (one line) when Ray is missing or the address is malformed or closed,
        so that a bad option fails before a campaign starts."""
        _import_ray()
        if self.address and self.address != "auto":
            host, port = _split_address(self.address)
            _check_reachable(self.address, host, port)

    def run(
        self,
        target: Target,
        data: CampaignInput,
        probes: Sequence[PlannedProbe],
        seed: int,
        progress: ProgressFactory | None = None,
    ) -> list[ProbeOutcome]:
        """Put the target and data once, start one task per probe, gather in plan order;
        Ray is shut down afterwards only when this call started it."""
        if not probes:
            return []
        ray, started = self._connect()
        try:
            target_ref, data_ref = _put(ray, target, data)
            job = ray.remote(max_retries=0)(_remote_job)
            refs = [job.remote(target_ref, data_ref, planned, seed) for planned in probes]
            return _gather(ray, refs, probes, progress)
        finally:
            if started:
                ray.shutdown()

    def _connect(self) -> tuple[Any, bool]:
        """Import Ray and join or start an instance; True when this call started it."""
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # offline: no usage report
        ray = _import_ray()
        if ray.is_initialized():
            return ray, False
        self.check()
        where = self.address or "a local instance"
        try:
            ray.init(
                address=self.address or None,
                num_cpus=None if self.address else self.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
                logging_level=logging.WARNING,
            )
        except (Exception, SystemExit) as exc:  # Ray exits the process on a dead cluster
            raise UsageError(f"cannot start or reach Ray at {where}: {first_line(exc)}") from None
        return ray, True


def make_executor(kind: str, address: str | None = None) -> Executor:
    """The executor named by `--executor` (checked: Ray installed, address reachable)."""
    if kind == "local":
        if address:
            raise UsageError("--ray-address needs --executor ray")
        return LocalExecutor()
    if kind == "ray":
        executor = RayExecutor(address or None)
        executor.check()
        return executor
    raise UsageError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")


def _remote_job(
    target: Target, data: CampaignInput, planned: PlannedProbe, seed: int
) -> ProbeOutcome:
    """The Ray task body: arrays from the object store are read-only, so the data gets
    writable copies before the probe sees it."""
    data = replace(
        data,
        x=np.array(data.x),
        y=np.array(data.y),
        sensitive={k: np.array(v) for k, v in data.sensitive.items()},
    )
    return run_probe_job(target, data, planned, seed)


def _put(ray: Any, target: Target, data: CampaignInput) -> tuple[Any, Any]:
    """Store the target and the data once for all tasks; a target that cannot be
    serialized (an open connection, say) is a TargetError naming the way out."""
    try:
        return ray.put(target), ray.put(data)
    except Exception as exc:
        raise TargetError(
            f"target {target.name} cannot be sent to Ray workers ({first_line(exc)}); "
            "use --executor local"
        ) from None


def _gather(
    ray: Any, refs: list[Any], probes: Sequence[PlannedProbe], progress: ProgressFactory | None
) -> list[ProbeOutcome]:
    """Collect outcomes as tasks finish (progress per finished task), return them in plan
    order; a failed task becomes that probe's "error" record."""
    pending = {ref: i for i, ref in enumerate(refs)}
    outcomes: dict[int, ProbeOutcome] = {}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                outcomes[i] = _fetch(ray, ref, probes[i].probe.name)
                with _progress(progress, probes[i].probe.name) as report:
                    report(1.0, outcomes[i].run.status)
    except BaseException:  # Ctrl-C or a caller's stop: a cluster must not keep working
        _cancel(ray, list(pending))
        raise
    return [outcomes[i] for i in range(len(refs))]


def _cancel(ray: Any, refs: list[Any]) -> None:
    """Cancel tasks still queued or running (best effort: Ray may be going away)."""
    for ref in refs:
        with suppress(Exception):  # nothing useful to do when a cancel fails
            ray.cancel(ref, force=True)


def _fetch(ray: Any, ref: Any, name: str) -> ProbeOutcome:
    """One task's outcome, or an "error" record when the task itself failed."""
    try:
        outcome: ProbeOutcome = ray.get(ref)
    except ray.exceptions.RayError as exc:
        message = f"Ray task failed: {type(exc).__name__}: {first_line(exc)}"
        return ProbeOutcome(ProbeRun(name, "error", message=message), [])
    return outcome


def _import_ray() -> ModuleType:
    """The ray module, or a one-line UsageError when it is not installed."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise UsageError(
            "--executor ray needs the ray package: pip install 'redwatch[ray]'"
        ) from None


def _split_address(address: str) -> tuple[str, int]:
    """Host and port of `host:port` or `ray://host:port`; UsageError otherwise."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in rest:
        raise UsageError(f"bad Ray address {address!r}: use host:port, ray://host:port or auto")
    return host.strip("[]"), int(port)


def _check_reachable(address: str, host: str, port: int) -> None:
    """Ray waits minutes on a closed address; a short TCP connect fails fast instead."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot reach Ray at {address}: {reason}") from None


@contextmanager
def _progress(progress: ProgressFactory | None, name: str) -> Iterator[ProgressFn]:
    """The caller's progress callback for one probe, or a silent one."""
    if progress is None:
        yield _silent
        return
    with progress(name) as report:
        yield report


def _silent(fraction: float, message: str) -> None:
    """Progress callback that shows nothing."""
