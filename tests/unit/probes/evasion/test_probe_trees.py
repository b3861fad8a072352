"""evasion.tree_exact and evasion.tree_walk on real tree targets."""

from __future__ import annotations

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.tree_exact import TreeExactProbe
from redwatch.probes.evasion.tree_walk import TreeWalkProbe
from redwatch.targets.detect import from_object
from redwatch.targets.spec import InputSpec


def _target(model: object, x: np.ndarray, names: list[str]):  # type: ignore[no-untyped-def]
    target = from_object(model, name="trees")
    target.set_input_spec(InputSpec.from_data(x, names))
    return target


def _cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = load_breast_cancer()
    return data.data, data.target, [str(n) for n in data.feature_names]


def test_exact_probe_reports_true_radii_and_confirmed_evasions() -> None:
    x, y, names = _cancer()
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    target = _target(model, x, names)
    assert target.capabilities.has("trees")
    ctx = ProbeContext(x, y, seed=0, params={"samples": 12, "epsilons": [0.05, 0.1, 0.3]})
    findings = list(TreeExactProbe().run(target, ctx))
    assert ctx.metrics["robustness_exact_fraction"] == 1.0
    radius = ctx.metrics["robustness_radius_median"]
    assert radius is not None
    assert 0 < radius < 1
    assert len(findings) == 1
    f = findings[0]
    assert f.probe == "evasion.tree_exact"
    assert "exact MILP" in f.title
    arrays = f.evidence[0].arrays
    assert len(arrays["x_adv"]) > 0
    assert np.all(model.predict(arrays["x_adv"]) != arrays["y"])
    # the curve is exact: success at eps is the fraction of radii <= eps
    radii = [r for r in f.metrics["robustness_radius"]["radii"] if r is not None]
    point = next(p for p in f.metrics["curve"] if p["epsilon"] == 0.3)
    assert point["success_rate"] >= np.mean(np.asarray(radii) <= 0.3) - 1e-9


def test_exact_probe_skips_large_ensembles() -> None:
    x, y, names = _cancer()
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(x, y)
    ctx = ProbeContext(x, y, params={"max_leaves": 100})
    assert list(TreeExactProbe().run(_target(model, x, names), ctx)) == []
    assert "max_leaves=100" in ctx.metrics["skipped"]


def test_walk_probe_on_boosted_model_within_budget() -> None:
    x, y, names = _cancer()
    model = xgb.XGBClassifier(n_estimators=100, max_depth=4, n_jobs=1).fit(x, y)
    target = _target(model, x, names)
    ctx = ProbeContext(
        x, y, seed=1, budget=Budget(queries=500), params={"samples": 40, "epsilons": [0.1, 0.3]}
    )
    with target.limit(500):
        findings = list(TreeWalkProbe().run(target, ctx))
    assert target.queries <= 500
    assert len(findings) == 1
    f = findings[0]
    assert f.metrics["trees"] == 100
    assert "leaf walk" in f.title
    adv = f.evidence[0].arrays["x_adv"]
    assert np.all(model.predict(adv) != f.evidence[0].arrays["y"])
    assert ctx.metrics["success_rate_Linf"] > 0


def test_probes_declare_trees() -> None:
    for probe in (TreeExactProbe, TreeWalkProbe):
        assert probe.requires == frozenset({"trees"})
        assert probe.name.startswith("evasion.")
