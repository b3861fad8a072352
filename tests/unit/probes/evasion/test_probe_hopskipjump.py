"""evasion.hopskipjump through the shared minimal-norm plumbing: budgets and evidence."""

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.hopskipjump import HopSkipJumpProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec


def test_hopskipjump_evidence_is_feasible_and_budget_stop_is_reported(cancer_data) -> None:  # type: ignore[no-untyped-def]
    x, y, names = cancer_data
    model = make_pipeline(StandardScaler(), SVC()).fit(x, y)
    target = SklearnTarget(model, name="svc")
    target.set_input_spec(InputSpec.from_data(x, names).declare(immutable=["worst area"]))
    ctx = ProbeContext(x, y, Budget(), seed=0, params={"samples": 20, "max_queries": 3000})
    with target.limit(4_000):
        findings = list(HopSkipJumpProbe().run(target, ctx))
    assert target.queries <= 4_000
    (f,) = findings
    assert f.metrics["stopped"] == "budget"
    arrays = f.evidence[0].arrays
    imm = target.capabilities.input_spec.index("worst area")
    np.testing.assert_array_equal(arrays["x"][:, imm], arrays["x_adv"][:, imm])
    assert (target.predict(arrays["x_adv"]) != arrays["y"]).all()
