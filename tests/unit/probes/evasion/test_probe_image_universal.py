"""evasion.uap and evasion.patch on a real MNIST CNN behind a TorchTarget: applicability,
held-out claims against random baselines, feasible evidence, views, budgets."""

import numpy as np
import pytest

from redwatch.demo.models import DemoModel, train_mnist_cnn
from redwatch.findings import Category
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.patch import PatchProbe
from redwatch.probes.evasion.uap import UAPProbe
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.spec import InputSpec
from redwatch.targets.torch_target import TorchTarget


@pytest.fixture(scope="module")
def demo() -> DemoModel:
    return train_mnist_cnn(seed=0, epochs=2, threads=1)


@pytest.fixture
def target(demo: DemoModel) -> TorchTarget:
    t = TorchTarget(demo.model, input_shape=(1, 28, 28), name="mnist-cnn")
    spec = InputSpec.from_data(demo.x_test, demo.feature_names, image_shape=(1, 28, 28))
    # one global pixel range, as the scan engine builds it for images
    t.set_input_spec(
        InputSpec(spec.feature_names, np.zeros(784), np.ones(784), image_shape=(1, 28, 28))
    )
    return t


def _ctx(demo: DemoModel, **params: object) -> ProbeContext:
    return ProbeContext(demo.x_test, demo.y_test, Budget(), seed=0, params=dict(params))


def test_probes_apply_to_images_with_gradients_only() -> None:
    tabular = InputSpec.from_data(np.random.default_rng(0).random((20, 4)))
    image = InputSpec(
        tuple(f"p{i}" for i in range(16)), np.zeros(16), np.ones(16), image_shape=(1, 4, 4)
    )
    for probe in (UAPProbe, PatchProbe):
        reason = probe.why_not(Capabilities(gradients=True, input_spec=tabular))
        assert reason is not None
        assert reason.startswith("image inputs only")
        assert "gradients" in (probe.why_not(Capabilities(scores=True, input_spec=image)) or "")
        assert probe.applies(Capabilities(gradients=True, input_spec=image))
    assert UAPProbe.cost == 3
    assert PatchProbe.cost == 4


def test_uap_probe_reports_held_out_fooling_above_random(
    demo: DemoModel, target: TorchTarget
) -> None:
    ctx = _ctx(demo, samples=300, epsilons=[0.1, 0.2], reference_epsilon=0.2)
    findings = list(UAPProbe().run(target, ctx))
    assert len(findings) == 1
    f = findings[0]
    m = f.metrics
    assert f.category == Category.EVASION
    assert m["heldout_images"] + m["train_images"] <= 300
    assert m["fooling_rate_heldout"] >= m["random_perturbation_fooling_rate"] + 0.1
    assert [p["epsilon"] for p in m["curve"]] == [0.1, 0.2]
    assert ctx.metrics["uap_fooling_rate_Linf"] == m["fooling_rate_heldout"]
    assert m["queries"] == target.queries - 300  # prepare() spent one prediction per row
    delta = next(e for e in f.evidence if e.kind == "universal_perturbation").arrays["delta"]
    assert np.abs(delta).max() <= 0.2 + 1e-9
    ex = next(e for e in f.evidence if e.kind == "adversarial_examples").arrays
    assert len(ex["x"]) > 0
    assert np.abs(ex["x_adv"] - ex["x"]).max() <= 0.2 + 1e-9
    assert ex["x_adv"].min() >= 0.0
    assert ex["x_adv"].max() <= 1.0
    assert np.all(target.predict(ex["x_adv"]) == ex["pred"])
    assert np.all(ex["pred"] != ex["y"])
    kinds = [mit.kind for mit in f.mitigations]
    assert "retrain" in kinds
    assert any(mit.title.startswith("Smooth or screen image") for mit in f.mitigations)


def test_patch_probe_reports_success_over_thousands_of_views(
    demo: DemoModel, target: TorchTarget
) -> None:
    ctx = _ctx(demo, samples=200, steps=100, views=2000)
    findings = list(PatchProbe().run(target, ctx))
    assert len(findings) == 1
    f = findings[0]
    m = f.metrics
    assert m["views"] >= 2000
    assert m["success_rate"] >= m["random_patch_success_rate"] + 0.1
    assert m["patch_side_pixels"] == 9
    assert m["transforms"]["rotation"] == 20.0
    assert ctx.metrics["patch_views"] == m["views"]
    patch = next(e for e in f.evidence if e.kind == "adversarial_patch").arrays["patch"]
    assert patch.shape == (81,)
    assert patch.min() >= 0.0
    assert patch.max() <= 1.0
    ex = next(e for e in f.evidence if e.kind == "adversarial_examples").arrays
    assert len(ex["x_adv"]) == 8
    assert np.all(target.predict(ex["x_adv"]) == ex["pred"])
    assert np.all(ex["pred"] != ex["y"])
    assert "views" in f.title


def test_patch_probe_stops_cleanly_on_a_spent_query_budget(
    demo: DemoModel, target: TorchTarget
) -> None:
    ctx = _ctx(demo, samples=100, steps=200, views=2000)
    with target.limit(1500):
        findings = list(PatchProbe().run(target, ctx))
    assert target.queries <= 1500
    # evaluation was reserved a share of the budget: fewer views, but measured ones
    assert 0 < ctx.metrics["patch_views"] < 2000
    assert len(findings) == 1
    m = findings[0].metrics
    assert m["stopped"] == "budget"
    assert m["views_requested"] == 2000
    assert m["views"] == ctx.metrics["patch_views"]


def test_uap_probe_stops_cleanly_on_a_spent_query_budget(
    demo: DemoModel, target: TorchTarget
) -> None:
    ctx = _ctx(demo, samples=300, epsilons=[0.1, 0.2], reference_epsilon=0.2)
    with target.limit(2000):
        findings = list(UAPProbe().run(target, ctx))
    assert target.queries <= 2000
    assert findings == []  # the reference epsilon was never reached: nothing is claimed
