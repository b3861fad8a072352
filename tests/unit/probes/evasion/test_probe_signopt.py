"""evasion.signopt on a labels-only model: curve, feasible evidence, budgets."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from redwatch.exceptions import ProbeError
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.signopt import SignOPTProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec


def _svc(cancer_data):  # type: ignore[no-untyped-def]
    x, y, names = cancer_data
    model = make_pipeline(StandardScaler(), SVC()).fit(x, y)
    target = SklearnTarget(model, name="svc")
    target.set_input_spec(InputSpec.from_data(x, names).declare(immutable=["mean radius"]))
    return target, x, y


def test_signopt_curve_and_feasible_evidence_within_budget(cancer_data) -> None:  # type: ignore[no-untyped-def]
    target, x, y = _svc(cancer_data)
    assert not target.capabilities.scores
    ctx = ProbeContext(x, y, Budget(), seed=0, params={"samples": 20, "max_queries": 400})
    with target.limit(20_000):
        findings = list(SignOPTProbe().run(target, ctx))
    assert target.queries <= 20_000
    (f,) = findings
    assert f.metrics["median_queries_per_sample"] <= 400
    rates = [p["success_rate"] for p in f.metrics["curve"]]
    assert rates == sorted(rates)
    arrays = f.evidence[0].arrays
    spec = target.capabilities.input_spec
    imm = spec.index("mean radius")
    np.testing.assert_array_equal(arrays["x"][:, imm], arrays["x_adv"][:, imm])
    assert (target.predict(arrays["x_adv"]) != arrays["y"]).all()
    assert ctx.metrics["success_rate_L2"] == f.metrics["success_rate"]


def test_signopt_keeps_the_hard_budget(cancer_data) -> None:  # type: ignore[no-untyped-def]
    target, x, y = _svc(cancer_data)
    ctx = ProbeContext(x, y, Budget(), seed=0, params={"samples": 20, "max_queries": 2000})
    with target.limit(1_500):
        findings = list(SignOPTProbe().run(target, ctx))
    assert target.queries <= 1_500
    for f in findings:
        assert f.metrics["stopped"] == "budget"


def test_signopt_refuses_linf(cancer_data) -> None:  # type: ignore[no-untyped-def]
    target, x, y = _svc(cancer_data)
    ctx = ProbeContext(x, y, Budget(), seed=0, params={"norms": ["inf"]})
    with pytest.raises(ProbeError, match="L2"):
        list(SignOPTProbe().run(target, ctx))


def test_signopt_stops_at_its_time_share_and_keeps_what_it_confirmed(cancer_data) -> None:  # type: ignore[no-untyped-def]
    target, x, y = _svc(cancer_data)
    # a million queries per sample cannot be spent in one second: the deadline ends the run
    params = {"samples": 20, "max_queries": 1_000_000}
    ctx = ProbeContext(x, y, Budget(seconds=1.0), seed=0, params=params)
    findings = list(SignOPTProbe().run(target, ctx))
    assert target.queries < 20 * 1_000_000
    (f,) = findings
    assert f.metrics["stopped"] == "budget"
    arrays = f.evidence[0].arrays
    assert (target.predict(arrays["x_adv"]) != arrays["y"]).all()  # confirmed after it
