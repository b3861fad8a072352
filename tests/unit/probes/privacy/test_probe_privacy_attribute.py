"""privacy.attribute_inference on the credit demo model: the model's scores reveal income
(a model input) beyond what balance and student status do, a random side column leaks
nothing, the substitution attack runs only on model inputs; skips and one-line errors."""

import numpy as np
import pytest

from redwatch.demo.models import DemoModel, train_credit_gbm
from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Severity
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.privacy.attribute import SKIPPED, AttributeInferenceProbe
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec
from redwatch.testing.conformance import run_probe_checked

ROWS = 1200


@pytest.fixture(scope="module")
def credit() -> DemoModel:
    return train_credit_gbm(seed=0, n_estimators=60)


def _target(demo: DemoModel) -> SklearnTarget:
    target = SklearnTarget(demo.model, name="credit-gbm")
    target.set_input_spec(InputSpec.from_data(demo.x_test, demo.feature_names))
    return target


def _ctx(demo: DemoModel, sensitive: dict[str, np.ndarray], **params: object) -> ProbeContext:
    params = {"max_rows": ROWS, **params}
    return ProbeContext(
        demo.x_test, demo.y_test, Budget(), seed=0, params=params, sensitive=sensitive
    )


@pytest.mark.slow
def test_scores_reveal_income_but_not_a_random_side_column(credit: DemoModel) -> None:
    target = _target(credit)
    rng = np.random.default_rng(5)
    gender = np.where(rng.random(len(credit.x_test)) < 0.5, "F", "M").astype(object)
    gender[:50] = None  # missing values are left out
    ctx = _ctx(credit, {"income": credit.x_test[:, 2], "gender": gender})
    (f,) = run_probe_checked(AttributeInferenceProbe, target, ctx)
    assert f.category is Category.PRIVACY
    assert f.key == "income"
    assert f.severity >= Severity.MEDIUM
    assert f.metrics["advantage_auc_ci"][0] > 0.05
    assert f.metrics["attack_auc"] > f.metrics["baseline_auc"] + 0.1
    assert f.metrics["binned"] is True
    assert len(f.metrics["values"]) == 4
    attackers = [row["attacker"] for row in f.evidence[0].data["attacks"]]
    assert attackers == [
        "prior",
        "features",
        "features+output",
        "features+label",
        "features+rounded_output",
        "fredrikson",
    ]
    rounded = f.metrics["rounded_output"]["advantage_auc"]
    assert rounded < f.metrics["advantage_auc"]
    assert f"{rounded:+.3f}" in f.mitigations[0].detail
    by_name = {s["attribute"]: s for s in ctx.metrics["attributes"]}
    assert by_name["gender"]["model_input"] is False
    assert by_name["gender"]["advantage_auc_ci"][0] <= 0.05
    assert by_name["gender"]["rows"] < ROWS  # the missing values were dropped
    assert ctx.metrics["worst_attribute"] == "income"
    assert {r["attacker"] for r in ctx.metrics["attacks"] if r["attribute"] == "gender"} == {
        "prior",
        "features",
        "features+output",
        "features+label",
        "features+rounded_output",
    }
    # one query per row, plus one per row and income bin for the substitution attack
    assert target.queries == ROWS + ROWS * 4


def test_without_a_sensitive_column_it_records_a_skip(credit: DemoModel) -> None:
    target = _target(credit)
    ctx = _ctx(credit, {})
    assert run_probe_checked(AttributeInferenceProbe, target, ctx) == []
    assert ctx.metrics == {"skipped": SKIPPED}
    assert target.queries == 0


def test_a_feature_named_in_params_is_attacked_and_student_status_does_not_leak(
    credit: DemoModel,
) -> None:
    ctx = _ctx(credit, {}, attribute="student", min_advantage=0.05)
    assert run_probe_checked(AttributeInferenceProbe, _target(credit), ctx) == []
    (summary,) = ctx.metrics["attributes"]
    assert summary["attribute"] == "student"
    assert summary["baseline_auc"] > 0.9  # income gives students away without the model
    assert summary["advantage_auc_ci"][0] < 0.05
    with pytest.raises(ProbeError, match="not a model feature"):
        AttributeInferenceProbe().run(_target(credit), _ctx(credit, {}, attribute="age"))


def test_a_constant_attribute_is_skipped_and_labels_only_targets_do_not_apply(
    credit: DemoModel,
) -> None:
    ctx = _ctx(credit, {"region": np.array(["north"] * len(credit.x_test), dtype=object)})
    assert run_probe_checked(AttributeInferenceProbe, _target(credit), ctx) == []
    assert ctx.metrics["attributes"][0]["skipped"].startswith("fewer than two values")
    assert "scores" in (AttributeInferenceProbe.why_not(Capabilities(labels=True)) or "")
    unnamed = SklearnTarget(credit.model, name="credit-gbm")  # no feature names known
    ctx = _ctx(credit, {"income": credit.x_test[:, 2]}, max_rows=200)
    run_probe_checked(AttributeInferenceProbe, unnamed, ctx)
    assert ctx.metrics["attributes"][0]["model_input"] is True  # found by its values
    income = {"income": credit.x_test[:, 2]}
    ctx = ProbeContext(credit.x_test, credit.y_test, Budget(queries=500), sensitive=income)
    run_probe_checked(AttributeInferenceProbe, _target(credit), ctx)
    assert ctx.metrics["samples"] == 500 // 5  # 1 + 4 income bins per row
    with pytest.raises(ProbeError, match="max_rows or the query budget"):
        AttributeInferenceProbe().run(
            _target(credit), _ctx(credit, {"x": credit.x_test[:, 0]}, max_rows=3)
        )
