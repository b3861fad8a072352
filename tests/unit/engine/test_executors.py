"""Executors without a Ray instance: make_executor's checks, the pure probe job, and the
runner's query accounting for jobs that ran on copies of the target."""

from __future__ import annotations

import pickle
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from redwatch.demo.models import train_digits_logreg
from redwatch.engine.executors import (
    LocalExecutor,
    ProbeOutcome,
    RayExecutor,
    make_executor,
    run_probe_job,
)
from redwatch.engine.planner import Plan, PlannedProbe
from redwatch.engine.runner import CampaignInput, CampaignRunner
from redwatch.engine.runner import LocalExecutor as ReExported
from redwatch.exceptions import UsageError
from redwatch.findings import Category, Finding
from redwatch.probes.base import Budget, Probe, ProbeContext, ProgressFn
from redwatch.probes.evasion.noise import NoiseRobustnessProbe
from redwatch.probes.evasion.sensitivity import FeatureSensitivityProbe
from redwatch.store.repository import Store
from redwatch.targets.base import Target
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

NOISE = {"samples": 100, "draws": 2, "epsilons": [0.5], "reference_epsilon": 0.5}


@pytest.fixture(scope="module")
def digits() -> tuple[SklearnTarget, CampaignInput]:
    """The digits logistic regression with its input spec, and 100 held-out rows."""
    demo = train_digits_logreg(seed=0)
    x, y = demo.x_test[:100], demo.y_test[:100]
    target = SklearnTarget(demo.model, name="digits")
    target.set_input_spec(InputSpec.from_data(x, list(demo.feature_names)))
    return target, CampaignInput(x, y, config={})


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A local port that accepts connections while the test runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_make_executor_builds_local_and_ray(listening_port: int) -> None:
    assert isinstance(make_executor("local"), LocalExecutor)
    assert ReExported is LocalExecutor
    ray_local = make_executor("ray")
    assert isinstance(ray_local, RayExecutor)
    assert ray_local.address is None
    for address in (f"127.0.0.1:{listening_port}", f"ray://127.0.0.1:{listening_port}"):
        remote = make_executor("ray", address)
        assert isinstance(remote, RayExecutor)
        assert remote.address == address


@pytest.mark.parametrize(
    ("kind", "address", "message"),
    [
        ("threads", None, r"unknown executor 'threads'; choose from local, ray"),
        ("local", "10.0.0.1:6379", r"--ray-address needs --executor ray"),
        ("ray", "nonsense", r"bad Ray address 'nonsense'"),
        ("ray", "ray://head:port", r"bad Ray address"),
    ],
)
def test_make_executor_rejects_bad_options(kind: str, address: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        make_executor(kind, address)
    assert "\n" not in str(caught.value)


def test_a_closed_ray_address_fails_fast(closed_port: int) -> None:
    for address in (f"127.0.0.1:{closed_port}", f"ray://127.0.0.1:{closed_port}"):
        with pytest.raises(UsageError, match=rf"cannot reach Ray at {address}: .*refused"):
            make_executor("ray", address)


def test_missing_ray_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what the import system does without it
    with pytest.raises(UsageError, match=r"needs the ray package"):
        make_executor("ray")


def test_an_empty_plan_does_not_start_ray(digits: tuple[SklearnTarget, CampaignInput]) -> None:
    target, data = digits
    assert RayExecutor().run(target, data, [], seed=0) == []
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


def test_the_job_counts_its_queries_and_survives_a_round_trip(
    digits: tuple[SklearnTarget, CampaignInput],
) -> None:
    target, data = digits
    before = target.queries
    outcome = run_probe_job(target, data, PlannedProbe(NoiseRobustnessProbe, Budget(), NOISE), 0)
    assert outcome.run.status == "ok"
    assert outcome.run.queries == target.queries - before > 0
    assert [f.probe for f in outcome.findings] == ["evasion.noise"]
    again = pickle.loads(pickle.dumps(outcome))  # what a Ray task sends back
    assert again.run == outcome.run
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in outcome.findings]


def test_the_job_records_budget_and_probe_errors(
    digits: tuple[SklearnTarget, CampaignInput],
) -> None:
    target, data = digits
    spent = run_probe_job(target, data, PlannedProbe(NoiseRobustnessProbe, Budget(50), NOISE), 0)
    assert spent.run.status == "budget"
    assert "query budget exhausted" in spent.run.message
    assert spent.findings == []
    broken = run_probe_job(target, data, PlannedProbe(_Broken, Budget()), 0)
    assert (broken.run.status, broken.run.message) == ("error", "ZeroDivisionError: bug")


class _Broken(Probe):
    """A probe with a bug."""

    name: ClassVar[str] = "evasion.broken"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = "always fails"

    def run(self, target: Target, ctx: ProbeContext) -> list[Finding]:
        raise ZeroDivisionError("bug")


class _CopyingExecutor(LocalExecutor):
    """Runs each job on a pickled copy of the target, as a remote worker would."""

    in_process = False

    def job(
        self,
        target: Target,
        data: CampaignInput,
        planned: PlannedProbe,
        seed: int,
        report: ProgressFn,
    ) -> ProbeOutcome:
        """The job on its own copy of the target."""
        copy = pickle.loads(pickle.dumps(target))
        return run_probe_job(copy, data, planned, seed, report)


def test_the_runner_adds_up_remote_queries_like_a_local_run(
    digits: tuple[SklearnTarget, CampaignInput], tmp_path: Path
) -> None:
    target, data = digits
    plan = Plan(
        [
            PlannedProbe(NoiseRobustnessProbe, Budget(), NOISE),
            PlannedProbe(FeatureSensitivityProbe, Budget(), {"samples": 50, "step": 0.5}),
        ],
        [],
    )
    results, counts = [], []
    for name, executor in (("local", LocalExecutor()), ("copies", _CopyingExecutor())):
        before = target.queries
        with Store.open(f"sqlite:///{tmp_path / name}.db") as store:
            runner = CampaignRunner(store, tmp_path / name, formats=("json",), executor=executor)
            results.append(runner.run(target, "sklearn", data, plan))
        counts.append(target.queries - before)
    local, copied = results
    assert counts[0] == counts[1] == sum(r.queries for r in local.probes) > 0
    assert [r.queries for r in copied.probes] == [r.queries for r in local.probes]
    assert [f.fingerprint for f in copied.findings] == [f.fingerprint for f in local.findings]
    drops = [r.probes[0].metrics["accuracy_drop"] for r in results]
    assert drops[0] == drops[1] > 0
