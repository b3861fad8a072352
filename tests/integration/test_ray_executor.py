"""The Ray executor against a real local Ray instance: the same seeded campaign gives the
same findings and probe statuses as the local executor; a crashed task is one probe's error."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import ray

from redwatch.demo.models import DemoModel, train_digits_logreg
from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.engine.executors import RayExecutor
from redwatch.engine.planner import PlannedProbe
from redwatch.engine.runner import CampaignInput
from redwatch.findings import Category, Finding
from redwatch.probes.base import Budget, Probe, ProbeContext
from redwatch.probes.evasion.noise import NoiseRobustnessProbe
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.base import Target
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

PARAMS: dict[str, dict[str, Any]] = {
    "evasion.noise": {"samples": 150, "draws": 2, "epsilons": [0.5], "reference_epsilon": 0.5},
    "evasion.sensitivity": {"samples": 100, "step": 0.5},
    "evasion.pgd": {"samples": 40, "steps": 10, "norms": ["inf"]},
    "evasion.square": {"samples": 10, "max_queries": 50, "norms": ["nope"]},  # an error
}


@pytest.fixture(scope="module")
def demo() -> DemoModel:
    """The digits logistic regression, trained once for the module."""
    return train_digits_logreg(seed=0)


def _campaign(demo: DemoModel, tmp_path: Path, executor: str) -> tuple[CampaignResult, int]:
    """One seeded campaign on the digits model; also the driver target's query count."""
    target = SklearnTarget(demo.model, name="digits")
    data = Dataset(demo.x_test[:150], demo.y_test[:150], list(demo.feature_names), "y", "d")
    options = ScanOptions(
        out_dir=tmp_path / executor,
        probes=list(PARAMS),
        params=PARAMS,
        formats=("json",),
        seed=3,
        executor=executor,
    )
    with Store.open(f"sqlite:///{tmp_path / executor}.db") as store:
        return run_scan(target, "sklearn", data, store, options), target.queries


@pytest.mark.slow
def test_ray_campaign_matches_the_local_one(demo: DemoModel, tmp_path: Path) -> None:
    local, local_queries = _campaign(demo, tmp_path, "local")
    remote, remote_queries = _campaign(demo, tmp_path, "ray")
    assert not ray.is_initialized()  # the executor started Ray, so it shut it down
    statuses = {r.probe: r.status for r in local.probes}
    assert statuses["evasion.noise"] == statuses["evasion.pgd"] == "ok"
    assert statuses["evasion.square"] == "error"
    assert [(r.probe, r.status) for r in remote.probes] == list(statuses.items())
    assert [r.queries for r in remote.probes] == [r.queries for r in local.probes]
    assert remote_queries == local_queries > 0
    assert len(local.findings) == 3  # one per working probe

    def key(result: CampaignResult) -> list[tuple[str, str, str]]:
        return [(f.fingerprint, f.severity.label, f.title) for f in result.findings]

    assert key(remote) == key(local)
    saved = [e.path for f in remote.findings for e in f.evidence if e.path]
    assert all((tmp_path / "ray" / p).exists() for p in saved)  # the driver wrote them


class _Crash(Probe):
    """Kills the worker process it runs in, as an out-of-memory kill would."""

    name: ClassVar[str] = "evasion.crash"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = "exits its process"

    def run(self, target: Target, ctx: ProbeContext) -> list[Finding]:
        os._exit(3)


@pytest.mark.slow
def test_a_crashed_task_is_that_probes_error_and_ray_stays_up(demo: DemoModel) -> None:
    pickler: Any = ray.cloudpickle
    pickler.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    target = SklearnTarget(demo.model, name="digits")
    x, y = demo.x_test[:100], demo.y_test[:100]
    target.set_input_spec(InputSpec.from_data(x, list(demo.feature_names)))
    probes = [
        PlannedProbe(_Crash, Budget()),
        PlannedProbe(NoiseRobustnessProbe, Budget(), {"samples": 100, "draws": 1}),
    ]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcomes = RayExecutor().run(target, CampaignInput(x, y), probes, seed=0)
        assert ray.is_initialized()  # started by the caller: left running
    finally:
        ray.shutdown()
    crash, noise = outcomes
    assert crash.run.probe == "evasion.crash"
    assert crash.run.status == "error"
    assert crash.run.message.startswith("Ray task failed")
    assert crash.findings == []
    assert noise.run.status == "ok"
    assert noise.run.queries > 0
    assert np.isfinite(noise.run.metrics["accuracy_drop"])
