"""Planner: applicability from capabilities, cheap probes first, budget split by cost."""

import numpy as np
import pytest

from redwatch.engine.planner import available_probes, plan_campaign
from redwatch.exceptions import UsageError
from redwatch.probes.base import Budget
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.spec import InputSpec

TABULAR = InputSpec(("a", "b"), np.zeros(2), np.ones(2))
IMAGE = InputSpec(tuple(f"p{i}" for i in range(4)), np.zeros(4), np.ones(4), image_shape=(1, 2, 2))


def test_labels_only_target_gets_only_decision_based_probes() -> None:
    plan = plan_campaign(Capabilities(labels=True, input_spec=TABULAR))
    chosen = {p.probe.name for p in plan.probes}
    assert "integrity.artifact_scan" not in chosen  # no model file
    assert "evasion.hopskipjump" in chosen
    assert "evasion.pgd" not in chosen
    assert "evasion.square" not in chosen
    reasons = {s.probe: s.message for s in plan.skipped}
    assert reasons["evasion.pgd"].startswith("needs gradients")
    assert all(s.status == "skipped" for s in plan.skipped)


def test_white_box_model_file_gets_every_probe_cheapest_first() -> None:
    caps = Capabilities(labels=True, scores=True, gradients=True, artifact=True, input_spec=TABULAR)
    plan = plan_campaign(caps)
    chosen = {p.probe.name for p in plan.probes}
    assert {"evasion.pgd", "evasion.square", "evasion.hopskipjump", "evasion.noise"} <= chosen
    assert "integrity.artifact_scan" in chosen
    expected = {n for n, c in available_probes().items() if c.default and c.applies(caps)}
    assert chosen == expected
    costs = [p.probe.cost for p in plan.probes]
    assert costs == sorted(costs)


def test_image_targets_skip_tabular_only_probes() -> None:
    plan = plan_campaign(Capabilities(labels=True, scores=True, input_spec=IMAGE))
    assert "evasion.sensitivity" in {s.probe for s in plan.skipped}


def test_budget_is_split_in_proportion_to_cost() -> None:
    caps = Capabilities(labels=True, scores=True, gradients=True, input_spec=TABULAR)
    plan = plan_campaign(caps, budget=Budget(queries=11_000, seconds=110.0))
    total_cost = sum(p.probe.cost for p in plan.probes)
    for p in plan.probes:
        assert p.budget.queries == int(11_000 * p.probe.cost / total_cost)
        assert p.budget.seconds == pytest.approx(110.0 * p.probe.cost / total_cost)
    assert sum(p.budget.queries or 0 for p in plan.probes) <= 11_000


def test_requested_probes_and_params_are_validated() -> None:
    caps = Capabilities(labels=True, input_spec=TABULAR)
    with pytest.raises(UsageError, match="unknown probe"):
        plan_campaign(caps, requested=["evasion.nope"])
    with pytest.raises(UsageError, match="options given for unknown probe"):
        plan_campaign(caps, params={"nope": {}})
    plan = plan_campaign(caps, requested=["evasion.noise"], params={"evasion.noise": {"draws": 2}})
    assert [p.probe.name for p in plan.probes] == ["evasion.noise"]
    assert plan.probes[0].params == {"draws": 2}


def test_opt_in_probes_run_only_when_named(monkeypatch: pytest.MonkeyPatch) -> None:
    table = dict(available_probes())
    pgd = table["evasion.pgd"]
    opt_in = type("OptInPGD", (pgd,), {"default": False})
    monkeypatch.setitem(table, "evasion.pgd", opt_in)
    monkeypatch.setattr("redwatch.engine.planner.available_probes", lambda: table)
    caps = Capabilities(labels=True, scores=True, gradients=True, input_spec=TABULAR)
    assert "evasion.pgd" not in {p.probe.name for p in plan_campaign(caps).probes}
    named = plan_campaign(caps, requested=["evasion.pgd"])
    assert [p.probe for p in named.probes] == [opt_in]
