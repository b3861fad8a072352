"""poisoning.backdoor on real models: a corner patch on digit images, out-of-range features
on a table, a small PyTorch network, the finding and its mitigations, and the time budget."""

import numpy as np
import pytest
import torch
from _poisoning_cases import Case, cancer_case, digits_case
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from redwatch.findings import Category, Severity
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.poisoning import BackdoorProbe
from redwatch.targets.torch_target import TorchTarget
from redwatch.testing.conformance import run_probe_checked


@pytest.fixture(scope="module")
def digits_image_logreg() -> Case:
    return digits_case()


@pytest.fixture(scope="module")
def cancer_logreg() -> Case:
    return cancer_case()


def _ctx(case, seconds: float | None = None, **params) -> ProbeContext:  # type: ignore[no-untyped-def]
    return ProbeContext(case.x, case.y, Budget(seconds=seconds), seed=0, params=params)


def test_a_corner_patch_backdoors_the_digits_model(digits_image_logreg) -> None:  # type: ignore[no-untyped-def]
    case = digits_image_logreg
    ctx = _ctx(case, max_rows=600, target_class=8)
    (f,) = run_probe_checked(BackdoorProbe, case.target, ctx)
    m = ctx.metrics
    assert m["trigger_columns"] == [54, 55, 62, 63]  # 2x2 bottom-right of 8x8
    assert m["target_class"] == 8
    assert m["train_rows"] == 600
    assert [r["rate"] for r in m["rates"]] == [0.0, 0.01, 0.05, 0.1, 0.2]
    assert m["rates"][0]["attack_success"] < 0.1  # the clean model ignores the patch
    assert m["rates"][-1]["attack_success"] > 0.9
    assert m["min_rate_compromised"] in (0.01, 0.05)
    assert f.category is Category.POISONING
    assert f.severity == (Severity.CRITICAL if m["min_rate_compromised"] == 0.01 else Severity.HIGH)
    assert f"{m['min_rate_compromised']:.0%} poisoned training rows" in f.title
    assert "sklearn clone + fit of LogisticRegression" in f.description
    commands = " ".join(str(x.params.get("command", "")) for x in f.mitigations)
    assert "redwatch data scan" in commands
    assert "--drop-rows" in commands
    assert f.evidence[0].data["rates"] == m["rates"]


def test_tabular_trigger_and_default_target_class(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    ctx = _ctx(case, rates=[0.05, 0.2], trigger_features=2)
    list(BackdoorProbe().run(case.target, ctx))
    m = ctx.metrics
    assert len(m["trigger_columns"]) == 2
    assert m["target_class"] == 0  # malignant is the rarer class of breast cancer
    assert "-> class 0" in m["attack"]
    assert m["rates"][-1]["attack_success"] > m["rates"][0]["attack_success"]
    assert m["rates_done"] == 2
    assert m["stopped"] is None


def test_out_of_time_stops_after_the_clean_model(digits_image_logreg) -> None:  # type: ignore[no-untyped-def]
    case = digits_image_logreg
    ctx = _ctx(case, seconds=0.0, max_rows=300)
    assert list(BackdoorProbe().run(case.target, ctx)) == []
    assert ctx.metrics["stopped"] == "time"
    assert ctx.metrics["rates_done"] == 0
    assert len(ctx.metrics["rates"]) == 1
    assert ctx.metrics["min_rate_compromised"] is None


def test_unreachable_thresholds_give_metrics_and_no_finding(digits_image_logreg) -> None:  # type: ignore[no-untyped-def]
    case = digits_image_logreg
    ctx = _ctx(case, rates=[0.01], max_rows=400, min_success=1.0, max_drop=1.0)
    assert list(BackdoorProbe().run(case.target, ctx)) == []
    assert ctx.metrics["max_attack_success"] < 1.0
    assert len(ctx.metrics["rates"]) == 2


class _Net(torch.nn.Sequential):
    """A small MLP on 8x8 digit images."""

    def __init__(self) -> None:
        super().__init__(
            torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )


def test_a_pytorch_module_is_reinitialised_and_retrained() -> None:
    torch.set_num_threads(1)
    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target
    target = TorchTarget(_Net(), input_shape=(1, 8, 8), n_classes=10, name="digits-mlp")
    assert "trainable" in target.capabilities.names
    ctx = ProbeContext(x[:600], y[:600], seed=0, params={"rates": [0.1], "epochs": 6})
    run_probe_checked(BackdoorProbe, target, ctx)
    m = ctx.metrics
    assert m["recipe"] == "re-initialised PyTorch module of _Net"
    assert m["clean_accuracy"] > 0.8  # really trained, not left at its initial weights
    assert m["rates"][1]["attack_success"] > m["rates"][0]["attack_success"] + 0.3
    scripted = TorchTarget(torch.jit.script(_Net()), input_shape=(1, 8, 8), n_classes=10)
    assert "trainable" not in scripted.capabilities.names
    assert "trainable" in (BackdoorProbe.why_not(scripted.capabilities) or "")


def train_small_logreg(x: np.ndarray, y: np.ndarray, seed: int) -> LogisticRegression:
    """A user's training function (params train_recipe)."""
    with threadpool_limits(1):
        return LogisticRegression(max_iter=300, C=0.5, random_state=seed).fit(x, y)


def test_a_user_training_function_replaces_the_clone(digits_image_logreg) -> None:  # type: ignore[no-untyped-def]
    case = digits_image_logreg
    ref = f"{__name__}:train_small_logreg"
    ctx = _ctx(case, rates=[0.1], max_rows=300, train_recipe=ref)
    list(BackdoorProbe().run(case.target, ctx))
    assert ctx.metrics["recipe"] == f"user training function {__name__}:train_small_logreg"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rates": [0.0, 0.1]}, "strictly between 0 and 1"),
        ({"rates": "many"}, "fractions"),
        ({"max_rows": 5}, "max_rows"),
        ({"test_fraction": 0.95}, "test_fraction"),
        ({"min_success": 2}, "min_success"),
        ({"target_class": "cat"}, "unknown class"),
        ({"patch": 20}, "patch size"),
    ],
)
def test_bad_options_are_one_line_probe_errors(digits_image_logreg, params, message) -> None:  # type: ignore[no-untyped-def]
    from redwatch.exceptions import ProbeError

    with pytest.raises(ProbeError, match=message):
        list(BackdoorProbe().run(digits_image_logreg.target, _ctx(digits_image_logreg, **params)))
