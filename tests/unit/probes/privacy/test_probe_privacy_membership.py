"""The membership probes on real models: an over-fit forest leaks (finding with ROC evidence
and measured mitigations), a regularised model does not; the real target is attacked when
its training rows are given; label-only targets; one-line errors."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.exceptions import DataError, ProbeError
from redwatch.findings import Category
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.privacy import LabelOnlyMembershipProbe, MembershipProbe
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec
from redwatch.testing.conformance import run_probe_checked

X, Y = load_breast_cancer(return_X_y=True)
NAMES = [f"f{i}" for i in range(X.shape[1])]


def _target(model, name: str, x=X, y=Y) -> SklearnTarget:  # type: ignore[no-untyped-def]
    target = SklearnTarget(model.fit(x, y), name=name)
    target.set_input_spec(InputSpec.from_data(X, NAMES))
    return target


def _forest() -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=1)


def _ctx(**params) -> ProbeContext:  # type: ignore[no-untyped-def]
    return ProbeContext(X, Y, Budget(queries=100_000), seed=0, params=params)


def test_an_overfit_forest_leaks_membership() -> None:
    target = _target(_forest(), "cancer-rf")
    ctx = _ctx(shadows=6)
    (f,) = run_probe_checked(MembershipProbe, target, ctx)
    assert f.category is Category.PRIVACY
    assert set(f.references) == {"AML.T0024.000", "OWASP-ML04", "NIST-MEASURE-2.10"}
    assert ctx.metrics["mode"] == "replica"
    assert ctx.metrics["shadows"] == 6
    assert target.queries == 0  # replica mode never queries the target
    names = [row["attack"] for row in ctx.metrics["attacks"]]
    assert names == ["threshold", "lira_offline", "lira_online", "rmia_offline", "rmia_online"]
    assert ctx.metrics["auc_ci"][0] > 0.6 or ctx.metrics["tpr_at_0.1%_fpr_ci"][0] > 0.003
    assert ctx.metrics["best_attack"].startswith(("rmia", "lira"))
    assert set(ctx.metrics["roc"]) == set(names)
    assert f.evidence[0].kind == "roc_curve"
    stages = [m.params.get("stage") for m in f.mitigations]
    assert stages == [None, None, "output", "output"]
    assert "rounded to 1 decimal" in f.mitigations[2].detail
    assert ctx.metrics["members"] + ctx.metrics["non_members"] == ctx.metrics["samples"]


def test_a_regularised_model_gives_metrics_but_no_finding() -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    target = _target(model, "cancer-logreg")
    ctx = _ctx(shadows=4)
    assert run_probe_checked(MembershipProbe, target, ctx) == []
    assert ctx.metrics["auc_ci"][0] <= 0.6
    assert ctx.metrics["recipe"] == "sklearn clone + fit of Pipeline"


def test_the_real_target_is_attacked_when_its_training_rows_are_given(tmp_path: Path) -> None:
    rows = np.random.default_rng(3).permutation(len(X))[:280]
    target = _target(_forest(), "cancer-rf-real", X[rows], Y[rows])
    members = pd.DataFrame(X[rows], columns=NAMES).assign(label=Y[rows])
    path = tmp_path / "members.csv"
    members.to_csv(path, index=False)
    ctx = _ctx(shadows=4, members=str(path))
    run_probe_checked(MembershipProbe, target, ctx)
    assert ctx.metrics["mode"] == "target"
    assert ctx.metrics["members"] == 280
    assert ctx.metrics["non_members"] + ctx.metrics["z_samples"] == len(X) - 280
    assert target.queries == len(X)  # one metered query per population row
    assert "members.csv" in ctx.metrics["attacked"]
    assert ctx.metrics["auc"] > 0.6


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    target = _target(_forest(), "cancer-rf")
    with pytest.raises(DataError, match="members file not found"):
        MembershipProbe().run(target, _ctx(members=str(tmp_path / "nope.csv")))
    with pytest.raises(ProbeError, match="shadows must be at least 2"):
        MembershipProbe().run(target, _ctx(shadows=1))
    few = ProbeContext(X[:10], Y[:10], seed=0)
    with pytest.raises(ProbeError, match="at least 20 rows"):
        MembershipProbe().run(target, few)
    (tmp_path / "m.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="members_label"):
        MembershipProbe().run(target, _ctx(members=str(tmp_path / "m.csv")))


def test_label_only_probe_on_a_label_only_target() -> None:
    target = _target(_forest(), "cancer-rf-labels")
    target.capabilities = replace(target.capabilities, scores=False)
    assert LabelOnlyMembershipProbe.applies(target.capabilities)
    assert not MembershipProbe.applies(target.capabilities)
    ctx = _ctx(shadows=2, draws=2)
    run_probe_checked(LabelOnlyMembershipProbe, target, ctx)
    assert [r["attack"] for r in ctx.metrics["attacks"]] == [
        "label_only",
        "label_only_calibrated",
    ]
    assert ctx.metrics["queries_per_row"] == 11
    assert ctx.metrics["scored_rows"] == ctx.metrics["samples"]


class _Endpoint(Target):
    """A label-only model redwatch cannot retrain (like an HTTP endpoint)."""

    def __init__(self, model: RandomForestClassifier) -> None:
        self._model = model
        self.name = "endpoint"
        self.capabilities = Capabilities(labels=True, scores=False, n_classes=2)

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        raise ProbeError("labels only")

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.predict(x))


def test_label_only_needs_members_when_the_model_cannot_be_retrained(tmp_path: Path) -> None:
    rows = np.arange(300)
    endpoint = _Endpoint(_forest().fit(X[rows], Y[rows]))
    with pytest.raises(ProbeError, match="params members"):
        LabelOnlyMembershipProbe().run(endpoint, _ctx())
    path = tmp_path / "members.csv"
    pd.DataFrame(X[rows], columns=NAMES).assign(label=Y[rows]).to_csv(path, index=False)
    ctx = ProbeContext(X, Y, Budget(queries=3000), seed=0, params={"members": str(path)})
    findings = run_probe_checked(LabelOnlyMembershipProbe, endpoint, ctx)
    assert ctx.metrics["mode"] == "target"
    assert ctx.metrics["scored_rows"] == 3000 // 31
    assert endpoint.queries <= 3000
    assert ctx.metrics["shadows"] == 0
    assert [r["attack"] for r in ctx.metrics["attacks"]] == ["label_only"]
    assert isinstance(findings, list)
