"""ART attacks as probes, on real small models: findings, feasibility, metering, budgets and
the import guard for the optional extra."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.svm import SVC

from redwatch.config import load_project_config
from redwatch.demo.models import DemoModel, train_digits_logreg
from redwatch.exceptions import ProbeError
from redwatch.findings import Finding
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.art_probes import (
    EXTRA_HINT,
    ArtBoundaryProbe,
    ArtCarliniProbe,
    ArtDeepFoolProbe,
    ArtEvasionProbe,
    ArtZooProbe,
)
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec
from redwatch.targets.torch_target import TorchTarget
from redwatch.testing.conformance import probe_declaration_problems, run_probe_checked

PROBES: list[type[ArtEvasionProbe]] = [
    ArtCarliniProbe,
    ArtDeepFoolProbe,
    ArtZooProbe,
    ArtBoundaryProbe,
]


@cache
def _digits() -> DemoModel:
    return train_digits_logreg(seed=0)


def _digits_target() -> SklearnTarget:
    demo = _digits()
    target = SklearnTarget(demo.model, name="digits-logreg")
    target.set_input_spec(InputSpec.from_data(demo.x_train, demo.feature_names))
    return target


def _ctx(**params: object) -> ProbeContext:
    demo = _digits()
    return ProbeContext(demo.x_test, demo.y_test, Budget(), seed=0, params=dict(params))


def _assert_real_evasions(target: Target, finding: Finding) -> None:
    """Every reported example is misclassified, feasible and no larger than the curve says."""
    arrays = finding.evidence[0].arrays
    assert len(arrays["x_adv"]) > 0
    assert (target.predict(arrays["x_adv"]) != arrays["y"]).all()
    spec = target.capabilities.input_spec
    assert spec is not None
    np.testing.assert_allclose(spec.project(arrays["x_adv"], arrays["x"]), arrays["x_adv"])
    rms = np.sqrt(np.mean(((arrays["x_adv"] - arrays["x"]) / spec.scale) ** 2, axis=1))
    assert rms.max() <= finding.metrics["epsilon"] + 1e-9


def test_declarations_pass_conformance() -> None:
    for cls in PROBES:
        assert probe_declaration_problems(cls.name, cls) == []


def test_deepfool_finds_small_evasions_on_digits() -> None:
    target = _digits_target()
    ctx = _ctx(samples=30)
    findings = run_probe_checked(ArtDeepFoolProbe, target, ctx)
    assert len(findings) == 1
    f = findings[0]
    _assert_real_evasions(target, f)
    assert f.metrics["success_rate_any_size"] >= 0.9  # DeepFool always crosses a linear model
    rates = [p["success_rate"] for p in f.metrics["curve"]]
    assert rates == sorted(rates)
    assert rates[-1] > rates[0]
    assert f.metrics["queries"] > 0
    assert ctx.metrics["success_rate_L2"] == f.metrics["success_rate"]


def test_carlini_runs_on_a_torch_model_through_the_metered_target() -> None:
    demo = _digits()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt = torch.as_tensor(demo.x_train, dtype=torch.float32)
    yt = torch.as_tensor(demo.y_train)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    target = TorchTarget(net, input_shape=(64,), n_classes=10, name="digits-mlp")
    target.set_input_spec(InputSpec.from_data(demo.x_train, demo.feature_names))
    ctx = _ctx(samples=12, max_iter=10, binary_search_steps=3)
    findings = run_probe_checked(ArtCarliniProbe, target, ctx)
    assert ctx.metrics["success_rate_any_size"] >= 0.8
    assert ctx.metrics["queries"] > 0
    for f in findings:
        _assert_real_evasions(target, f)


def test_gradient_probes_say_why_they_do_not_apply_to_a_labels_only_model() -> None:
    caps = Capabilities(labels=True)
    for cls in (ArtCarliniProbe, ArtDeepFoolProbe, ArtZooProbe):
        reason = cls.why_not(caps)
        assert reason is not None
        assert "needs" in reason
    assert ArtBoundaryProbe.why_not(caps) is None


def test_zoo_honours_the_query_budget_and_finds_evasions() -> None:
    target = _digits_target()
    ctx = _ctx(samples=6, max_queries=400)
    with target.limit(2_000):
        findings = list(ArtZooProbe().run(target, ctx))
    assert target.queries <= 2_000
    assert ctx.metrics["success_rate_any_size"] > 0.5
    for f in findings:
        assert f.metrics["median_queries_per_sample"] <= 400
        _assert_real_evasions(target, f)


def test_boundary_on_a_labels_only_model_within_budget() -> None:
    demo = _digits()
    model = SVC(gamma="scale").fit(demo.x_train, demo.y_train)
    target = SklearnTarget(model, name="digits-svc")
    assert not target.capabilities.scores
    target.set_input_spec(InputSpec.from_data(demo.x_train, demo.feature_names))
    ctx = _ctx(samples=5, max_queries=600)
    with target.limit(2_500):
        findings = run_probe_checked(ArtBoundaryProbe, target, ctx)
    assert target.queries <= 2_500
    assert ctx.metrics["success_rate_any_size"] >= 0.6
    for f in findings:
        _assert_real_evasions(target, f)
        assert f.metrics["median_queries_per_sample"] <= 600


def test_a_spent_budget_ends_the_probe_cleanly_with_what_was_found() -> None:
    target = _digits_target()
    ctx = _ctx(samples=20, max_queries=3_000)
    with target.limit(1_500):
        findings = list(ArtBoundaryProbe().run(target, ctx))
    assert target.queries <= 1_500
    assert ctx.metrics["stopped"] == "budget"
    assert 1 <= ctx.metrics["rows_attacked"] < 20
    assert ctx.metrics["success_rate_any_size"] > 0  # evasions seen before the cut survive
    for f in findings:
        _assert_real_evasions(target, f)


def test_gradient_attack_stops_at_the_budget_without_an_exception() -> None:
    target = _digits_target()
    ctx = _ctx(samples=30, batch_size=8)
    with target.limit(3_000):
        findings = list(ArtDeepFoolProbe().run(target, ctx))
    assert target.queries <= 3_000
    assert ctx.metrics["stopped"] == "budget"
    assert ctx.metrics["success_rate_any_size"] > 0  # the interrupted chunk's evasions count
    for f in findings:
        _assert_real_evasions(target, f)


def test_immutable_and_integer_features_are_respected(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    spec = case.target.capabilities.input_spec
    declared = spec.declare(immutable=["mean radius", "worst area"], integer=["mean texture"])
    case.target.set_input_spec(declared)
    frozen = [declared.index("mean radius"), declared.index("worst area")]
    for cls, params in ((ArtDeepFoolProbe, {"samples": 30}), (ArtBoundaryProbe, {"samples": 6})):
        ctx = ProbeContext(case.x, case.y, Budget(), seed=0, params={**params, "max_queries": 500})
        findings = list(cls().run(case.target, ctx))
        assert ctx.metrics["success_rate_any_size"] > 0
        for f in findings:
            arrays = f.evidence[0].arrays
            np.testing.assert_array_equal(arrays["x"][:, frozen], arrays["x_adv"][:, frozen])
            texture = arrays["x_adv"][:, declared.index("mean texture")]
            np.testing.assert_array_equal(texture, np.round(texture))
            _assert_real_evasions(case.target, f)


def test_results_are_reproducible_for_a_seed() -> None:
    runs = []
    for _ in range(2):
        ctx = _ctx(samples=4, max_queries=300)
        list(ArtZooProbe().run(_digits_target(), ctx))
        runs.append((ctx.metrics["median_norm"], ctx.metrics["queries"]))
    assert runs[0] == runs[1]


def test_bad_options_raise_probe_errors() -> None:
    with pytest.raises(ProbeError, match="max_iter"):
        list(ArtDeepFoolProbe().run(_digits_target(), _ctx(max_iter=0)))
    with pytest.raises(ProbeError, match="samples"):
        list(ArtZooProbe().run(_digits_target(), _ctx(samples="many")))


def test_without_art_the_planner_reason_is_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "art", None)  # what `import art` sees when not installed
    caps = Capabilities(labels=True, scores=True, gradients=True)
    for cls in PROBES:
        assert cls.why_not(caps) == EXTRA_HINT
        assert not cls.applies(caps)
    with pytest.raises(ProbeError, match=r"pip install 'redwatch\[art\]'"):
        list(ArtBoundaryProbe().run(_digits_target(), _ctx(samples=2)))


def test_docs_example_options_are_real_options() -> None:
    root = Path(__file__).parents[4]
    example = root / "docs" / "examples" / "art-probes.yaml"
    cfg = load_project_config(example)
    by_name = {cls.name: cls for cls in PROBES}
    assert set(cfg.probes) == set(by_name)
    for name, options in cfg.probes.items():
        probe = by_name[name]()
        assert set(options) <= set(probe.defaults)
        assert probe.settings(options)["samples"] == options["samples"]
    shown = (root / "docs" / "art.md").read_text(encoding="utf-8")
    body = example.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    assert body in shown
