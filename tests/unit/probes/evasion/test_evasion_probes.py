"""Evasion probes on real models: curves, feasibility, budgets, severities."""

import numpy as np
import pytest
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from redwatch.findings import Severity
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.hopskipjump import HopSkipJumpProbe
from redwatch.probes.evasion.noise import NoiseRobustnessProbe
from redwatch.probes.evasion.pgd import PGDProbe
from redwatch.probes.evasion.sensitivity import FeatureSensitivityProbe
from redwatch.probes.evasion.square import SquareProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec


def _ctx(case, **params):  # type: ignore[no-untyped-def]
    return ProbeContext(case.x, case.y, Budget(), seed=0, params=params)


def test_pgd_curve_is_monotone_and_evidence_is_feasible(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    spec = case.target.capabilities.input_spec
    case.target.set_input_spec(spec.declare(immutable=["mean radius", "worst area"]))
    findings = list(PGDProbe().run(case.target, _ctx(case, samples=60, steps=20, norms=["inf"])))
    assert len(findings) == 1
    f = findings[0]
    accs = [p["accuracy"] for p in f.metrics["curve"]]
    assert accs == sorted(accs, reverse=True)
    assert f.metrics["success_rate"] >= 0.4  # an unhardened linear model at 5 % of range
    assert f.severity >= Severity.HIGH
    arrays = f.evidence[0].arrays
    imm = [spec.index("mean radius"), spec.index("worst area")]
    np.testing.assert_array_equal(arrays["x"][:, imm], arrays["x_adv"][:, imm])
    delta = np.abs(arrays["x_adv"] - arrays["x"]) / spec.scale
    assert delta.max() <= 0.05 + 1e-9
    assert (case.target.predict(arrays["x_adv"]) != arrays["y"]).all()


def test_square_uses_only_scores_and_finds_evasions(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    findings = list(SquareProbe().run(case.target, _ctx(case, samples=40, max_queries=300)))
    assert findings
    assert findings[0].metrics["queries"] > 0
    assert (
        findings[0].metrics["curve"][-1]["success_rate"]
        >= findings[0].metrics["curve"][0]["success_rate"]
    )


def test_hopskipjump_on_a_labels_only_model_within_budget(cancer_data) -> None:  # type: ignore[no-untyped-def]
    x, y, names = cancer_data
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), SVC()).fit(x, y)
    target = SklearnTarget(model, name="svc")
    assert not target.capabilities.scores
    target.set_input_spec(InputSpec.from_data(x, names))
    ctx = ProbeContext(x, y, Budget(), seed=0, params={"samples": 20, "max_queries": 400})
    with target.limit(20_000):
        findings = list(HopSkipJumpProbe().run(target, ctx))
    assert target.queries <= 20_000
    assert findings
    f = findings[0]
    assert f.metrics["median_queries_per_sample"] <= 400
    sizes = [p["success_rate"] for p in f.metrics["curve"]]
    assert sizes == sorted(sizes)


def test_budget_exhaustion_stops_a_probe_without_losing_results(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    with case.target.limit(3_000):
        findings = list(SquareProbe().run(case.target, _ctx(case, samples=40, max_queries=1000)))
    assert case.target.queries <= 3_000
    for f in findings:
        assert len(f.metrics["curve"]) >= 1


def _threshold_model(seed: int = 0) -> tuple[SklearnTarget, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(2000, 3))
    y = (x[:, 0] > 0.5).astype(int)
    model = DecisionTreeClassifier(max_depth=1).fit(x, y)
    target = SklearnTarget(model, name="stump")
    target.set_input_spec(InputSpec.from_data(x, ["a", "b", "c"]))
    return target, x, y


def test_sensitivity_names_the_feature_that_decides() -> None:
    target, x, y = _threshold_model()
    ctx = ProbeContext(x, y, Budget(), seed=0, params={"samples": 500})
    (f,) = FeatureSensitivityProbe().run(target, ctx)
    ranked = f.metrics["flip_rate_by_feature"]
    assert ranked[0]["feature"] == "a"
    assert ranked[0]["flip_rate"] == pytest.approx(0.2, abs=0.05)  # |a - 0.5| < 0.1
    assert ranked[1]["flip_rate"] == 0.0


def test_sensitivity_respects_immutable_features() -> None:
    target, x, y = _threshold_model()
    spec = target.capabilities.input_spec
    assert spec is not None
    target.set_input_spec(spec.declare(immutable=["a"]))
    ctx = ProbeContext(x, y, Budget(), seed=0, params={"samples": 500})
    assert list(FeatureSensitivityProbe().run(target, ctx)) == []


def test_noise_finding_tracks_the_measured_drop() -> None:
    target, x, y = _threshold_model()
    ctx = ProbeContext(
        x,
        y,
        Budget(),
        seed=0,
        params={"samples": 1000, "draws": 4, "epsilons": [0.3], "reference_epsilon": 0.3},
    )
    (f,) = NoiseRobustnessProbe().run(target, ctx)
    # uniform noise of ±0.3 flips a row at distance d < 0.3 from the threshold with
    # probability (0.3 - d) / 0.6; averaged over those 60 % of rows that is 0.25, so 0.15
    assert f.metrics["accuracy_drop"] == pytest.approx(0.15, abs=0.03)
    assert f.severity is Severity.MEDIUM
