"""Extraction probes on real models: curves per output mode, budgets, transfer sets,
label-only targets, and the finding's hardening advice."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from redwatch.exceptions import DataError, ProbeError
from redwatch.findings import Category
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.extraction import (
    JacobianExtractionProbe,
    KnockoffExtractionProbe,
    SyntheticExtractionProbe,
)
from redwatch.probes.extraction.common import severity_of
from redwatch.probes.extraction.synthetic import sample_within
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec
from redwatch.testing.conformance import run_probe_checked


@pytest.fixture(scope="module")
def digits() -> SimpleNamespace:
    """Image target shared by the module (tests measure query deltas, not totals)."""
    data = load_digits()
    x, y = data.data / 16.0, data.target
    with threadpool_limits(1):
        model = LogisticRegression(max_iter=500).fit(x, y)
    target = SklearnTarget(model, name="digits-logreg")
    names = tuple(f"p{i}" for i in range(64))
    target.set_input_spec(InputSpec(names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8)))
    return SimpleNamespace(target=target, x=x, y=y)


def _ctx(case, **params) -> ProbeContext:  # type: ignore[no-untyped-def]
    return ProbeContext(case.x, case.y, Budget(queries=5_000), seed=0, params=params)


@pytest.mark.slow
def test_knockoff_copies_the_digits_model_and_says_what_hardening_buys(
    digits: SimpleNamespace,
) -> None:
    case = digits
    ctx = _ctx(case, holdout=300, queries=1200)
    q0 = case.target.queries
    findings = run_probe_checked(KnockoffExtractionProbe, case.target, ctx)
    assert case.target.queries - q0 == 300 + 1200
    assert ctx.metrics["queries"] == 1200
    assert ctx.metrics["learner"] == "cnn"  # auto: the target takes images
    assert ctx.metrics["fidelity"] >= 0.9
    assert ctx.metrics["fidelity_label"] < ctx.metrics["fidelity_probabilities"]
    (f,) = findings
    assert f.category is Category.EXTRACTION
    assert set(f.metrics["curves"]) == {"probabilities", "label", "rounded"}
    assert [p["queries"] for p in f.metrics["curves"]["label"]] == [120, 300, 600, 1200]
    assert "labels only" not in f.description  # the description names modes, not options
    assert "label answers give" in f.description
    stages = [m.params.get("stage") for m in f.mitigations]
    assert stages == ["output", "output", "extraction", "watermark"]
    assert f.mitigations[0].params["options"] == {"label_only": True}


def test_a_high_threshold_gives_metrics_but_no_finding(digits: SimpleNamespace) -> None:
    case = digits
    ctx = _ctx(case, holdout=200, queries=300, threshold=0.999, learner="mlp")
    assert list(KnockoffExtractionProbe().run(case.target, ctx)) == []
    assert ctx.metrics["queries"] == 300
    assert ctx.metrics["queries_to_threshold"] is None


def test_knockoff_reads_a_transfer_csv(digits: SimpleNamespace, tmp_path: Path) -> None:
    case = digits
    path = tmp_path / "transfer.csv"
    pd.DataFrame(case.x[:400], columns=case.target.capabilities.input_spec.feature_names).to_csv(
        path, index=False
    )
    ctx = _ctx(case, holdout=200, queries=1000, transfer=str(path), learner="mlp")
    list(KnockoffExtractionProbe().run(case.target, ctx))
    assert ctx.metrics["transfer_rows"] == 400
    assert ctx.metrics["queries"] == 400  # each natural row once
    pd.DataFrame(np.ones((3, 5))).to_csv(path, index=False)
    with pytest.raises(DataError, match="5 columns"):
        KnockoffExtractionProbe().run(case.target, _ctx(case, transfer=str(path)))
    with pytest.raises(DataError, match="not found"):
        KnockoffExtractionProbe().run(case.target, _ctx(case, transfer=str(tmp_path / "no")))


def test_synthetic_rows_respect_the_spec() -> None:
    spec = InputSpec(
        ("a", "b", "c", "d", "e"),
        np.array([0.0, 0.0, 0, 0, 0]),
        np.array([10.0, 1.0, 1, 1, 5]),
        integer=frozenset({0}),
        categorical={4: (1.0, 3.0)},
    ).declare(onehot=[["b", "c", "d"]])
    x = sample_within(spec, 200, np.random.default_rng(0))
    assert spec.feasible(x).all()
    assert set(np.unique(x[:, 4])) == {1.0, 3.0}
    assert len(np.unique(x[:, 0])) > 5


def test_synthetic_steals_a_table_model_and_skips_images(
    cancer_trees,  # type: ignore[no-untyped-def]
    digits: SimpleNamespace,
) -> None:
    case = cancer_trees
    ctx = _ctx(case, holdout=150, queries=800)
    run_probe_checked(SyntheticExtractionProbe, case.target, ctx)
    assert ctx.metrics["strategy"] == "synthetic"
    assert ctx.metrics["learner"] == "mlp"  # auto: a table
    assert 0.5 <= ctx.metrics["fidelity"] <= 1.0
    assert case.target.queries == 950
    reason = SyntheticExtractionProbe.why_not(digits.target.capabilities)
    assert reason is not None
    assert "tabular" in reason


def test_jacobian_grows_queries_from_seeds(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    ctx = _ctx(case, holdout=150, queries=400, seeds=10)
    run_probe_checked(JacobianExtractionProbe, case.target, ctx)
    assert ctx.metrics["seeds"] == 10
    assert 10 < ctx.metrics["queries"] <= 400
    assert case.target.queries == 150 + ctx.metrics["queries"]
    assert ctx.metrics["fidelity"] > 0.8


def test_label_only_target_measures_the_label_mode_only(cancer_data) -> None:  # type: ignore[no-untyped-def]
    x, y, names = cancer_data
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    target = SklearnTarget(make_pipeline(StandardScaler(), SVC()).fit(x, y), name="svc")
    assert not target.capabilities.scores
    target.set_input_spec(InputSpec.from_data(x, names))
    ctx = ProbeContext(x, y, Budget(queries=2_000), seed=0, params={"queries": 300})
    findings = run_probe_checked(KnockoffExtractionProbe, target, ctx)
    assert ctx.metrics["exposed_mode"] == "label"
    assert "fidelity_probabilities" not in ctx.metrics
    for f in findings:
        assert set(f.metrics["curves"]) == {"label"}
        assert [m.params.get("stage") for m in f.mitigations] == ["extraction", "watermark"]


def test_budget_caps_the_queries_and_too_small_a_budget_is_an_error(
    digits: SimpleNamespace,
) -> None:
    case = digits
    params = {"holdout": 100, "learner": "mlp"}
    ctx = ProbeContext(case.x, case.y, Budget(queries=350), seed=0, params=params)
    q0 = case.target.queries
    with case.target.limit(350):
        list(KnockoffExtractionProbe().run(case.target, ctx))
    assert ctx.metrics["queries"] == 250
    assert case.target.queries - q0 == 350
    tiny = ProbeContext(case.x, case.y, Budget(queries=50), seed=0, params={"holdout": 100})
    with pytest.raises(ProbeError, match="budget"):
        KnockoffExtractionProbe().run(case.target, tiny)


def test_severity_grows_with_fidelity_and_cheapness() -> None:
    assert severity_of(0.92, 1000, 100).label == "low"
    assert severity_of(0.96, 1000, 100).label == "medium"
    assert severity_of(0.99, 1000, 100).label == "high"
    assert severity_of(0.99, 100, 100).label == "critical"
