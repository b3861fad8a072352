"""evasion.apgd (and targeted evasion.pgd) on real models: the digits logistic regression
seen as 8x8 images, a saturated copy of it, and the binary breast-cancer pipeline."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from redwatch.demo.models import train_digits_logreg
from redwatch.exceptions import ProbeError
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.apgd import APGDProbe, flag
from redwatch.probes.evasion.pgd import PGDProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

FAST = {"samples": 60, "steps": 20, "epsilons": [0.02, 0.05, 0.1], "reference_epsilon": 0.05}


def _digits(scale: float = 1.0) -> tuple[SklearnTarget, np.ndarray, np.ndarray]:
    """Digits logistic regression as an 8x8 image model; `scale` multiplies its logits."""
    demo = train_digits_logreg(seed=0)
    model = copy.deepcopy(demo.model)
    model.coef_, model.intercept_ = model.coef_ * scale, model.intercept_ * scale
    target = SklearnTarget(model, name=f"digits-x{scale:g}")
    names = tuple(f"pixel_{i}" for i in range(64))
    target.set_input_spec(InputSpec(names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8)))
    return target, demo.x_test, demo.y_test


def _ctx(x: np.ndarray, y: np.ndarray, **params: object) -> ProbeContext:
    return ProbeContext(x, y, Budget(), seed=0, params={**FAST, **params})


def test_apgd_uses_ce_and_dlr_and_is_at_least_as_strong_as_pgd() -> None:
    target, x, y = _digits()
    ctx = _ctx(x, y, norms=["inf"])
    (f,) = APGDProbe().run(target, ctx)
    assert ctx.metrics["apgd_losses"] == "ce+dlr"
    assert "apgd_dlr_skipped" not in ctx.metrics
    assert f.probe == "evasion.apgd"
    assert f.title.startswith("APGD (CE+DLR)")
    assert f.metrics["losses"] == ["ce", "dlr"]
    (g,) = PGDProbe().run(target, _ctx(x, y, norms=["inf"]))
    for ours, base in zip(f.metrics["curve"], g.metrics["curve"], strict=True):
        assert ours["success_rate"] >= base["success_rate"]
    arrays = f.evidence[0].arrays
    assert np.abs(arrays["x_adv"] - arrays["x"]).max() <= 0.05 + 1e-9
    assert (target.predict(arrays["x_adv"]) != arrays["y"]).all()


def test_dlr_rescues_the_sweep_where_cross_entropy_saturates() -> None:
    target, x, y = _digits(scale=1000.0)
    (f,) = APGDProbe().run(target, _ctx(x, y, norms=["2"], epsilons=[1.0], reference_epsilon=1.0))
    pgd = list(
        PGDProbe().run(target, _ctx(x, y, norms=["2"], epsilons=[1.0], reference_epsilon=1.0))
    )
    pgd_rate = pgd[0].metrics["success_rate"] if pgd else 0.0
    assert pgd_rate <= 0.1  # CE gradients are exactly zero on most rows
    assert f.metrics["success_rate"] >= 0.9
    arrays = f.evidence[0].arrays
    assert np.linalg.norm(arrays["x_adv"] - arrays["x"], axis=1).max() <= 1.0 + 1e-9


def test_binary_model_falls_back_to_ce_and_keeps_evidence_feasible(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    spec = case.target.capabilities.input_spec
    case.target.set_input_spec(spec.declare(immutable=["mean radius", "worst area"]))
    ctx = ProbeContext(case.x, case.y, Budget(), seed=0, params={"samples": 60, "steps": 20})
    findings = list(APGDProbe().run(case.target, ctx))
    assert ctx.metrics["apgd_losses"] == "ce"
    assert "at least 3 classes" in ctx.metrics["apgd_dlr_skipped"]
    assert {f.key for f in findings} == {"norm=inf", "norm=2"}
    for f in findings:
        assert f.title.startswith("APGD (CE)")
        assert f.metrics["dlr_skipped"] == ctx.metrics["apgd_dlr_skipped"]
        arrays = f.evidence[0].arrays
        imm = [spec.index("mean radius"), spec.index("worst area")]
        np.testing.assert_array_equal(arrays["x"][:, imm], arrays["x_adv"][:, imm])
        assert case.target.capabilities.input_spec.feasible(arrays["x_adv"]).all()
        assert (case.target.predict(arrays["x_adv"]) != arrays["y"]).all()


@pytest.mark.parametrize("probe", [APGDProbe, PGDProbe])
def test_targeted_mode_reaches_the_most_likely_wrong_class(probe: type) -> None:
    target, x, y = _digits()
    ctx = _ctx(x, y, norms=["inf"], targeted=True, epsilons=[0.1], reference_epsilon=0.1)
    (f,) = probe().run(target, ctx)
    assert f.metrics["targeted"] is True
    arrays = f.evidence[0].arrays
    proba = target.predict_proba(arrays["x"])
    proba[np.arange(len(arrays["y"])), arrays["y"]] = -1
    reached = target.predict(arrays["x_adv"]) == proba.argmax(1)
    assert reached.mean() >= 0.9


def test_query_limit_stops_the_probe_and_keeps_confirmed_results() -> None:
    target, x, y = _digits()
    ctx = _ctx(x, y, norms=["inf", "2"])
    with target.limit(15_000):  # enough for the L∞ sweep (~11,700 rows), not for L2 as well
        findings = list(APGDProbe().run(target, ctx))
    assert target.queries <= 15_000
    assert [f.key for f in findings] == ["norm=inf"]
    assert "success_rate_Linf" in ctx.metrics
    for f in findings:
        assert (target.predict(f.evidence[0].arrays["x_adv"]) != f.evidence[0].arrays["y"]).all()


def test_options_are_validated() -> None:
    target, x, y = _digits()
    with pytest.raises(ProbeError, match="steps and restarts"):
        list(APGDProbe().run(target, _ctx(x, y, steps=0)))
    assert flag("yes") is True
    assert flag("false") is False
    with pytest.raises(ProbeError, match="true or false"):
        flag("maybe")
    assert "gradients" in (APGDProbe.why_not(SklearnTarget(_NoGrad()).capabilities) or "")


class _NoGrad:
    """A label-only classifier: APGD does not apply."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), dtype=np.int64)


def test_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import runpy
    from pathlib import Path

    example = Path(__file__).parents[4] / "docs" / "examples" / "whitebox_apgd.py"
    runpy.run_path(str(example), run_name="__main__")
    out = capsys.readouterr().out
    assert "losses used: ce+dlr" in out
    assert "APGD (CE+DLR) flips" in out
    assert "L2 ε=2" in out
