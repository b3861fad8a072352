"""privacy.model_inversion on real image models: the digits logistic regression and the
MNIST CNN give recognisable class images (evidence arrays in [0, 1]); a model trained on
shuffled labels does not; class choice, budgets and applicability."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from redwatch.demo.datasets import load_digits_01
from redwatch.demo.models import train_mnist_cnn
from redwatch.exceptions import ProbeError
from redwatch.findings import Category, Severity
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.privacy.inversion import ModelInversionProbe
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec
from redwatch.targets.torch_target import TorchTarget

X, Y = load_digits_01()


def _image_spec(side: int) -> InputSpec:
    n = side * side
    names = tuple(f"pixel_{i}" for i in range(n))
    return InputSpec(names, np.zeros(n), np.ones(n), image_shape=(1, side, side))


def _digits(labels: np.ndarray) -> SklearnTarget:
    with threadpool_limits(1):  # threaded BLAS only thrashes on a problem this small
        model = LogisticRegression(max_iter=200).fit(X, labels)
    target = SklearnTarget(model, name="digits")
    target.set_input_spec(_image_spec(8))
    return target


def _run(target: Target, x: np.ndarray, y: np.ndarray, **params: object) -> tuple[list, dict]:  # type: ignore[type-arg]
    ctx = ProbeContext(x, y, Budget(), seed=0, params=dict(params))
    findings = list(ModelInversionProbe().run(target, ctx))
    return findings, ctx.metrics


def test_digits_reconstructions_match_their_classes() -> None:
    target = _digits(Y)
    (f,), m = _run(target, X, Y)
    assert f.category is Category.PRIVACY
    assert m["classes_matched"] == m["classes_inverted"] == 10
    assert m["p_value"] < 1e-6
    assert m["mean_confidence"] > 0.9
    evidence = f.evidence[0]
    assert evidence.kind == "image"
    images = evidence.arrays["images"]
    assert images.shape == (10, 8, 8)
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    assert evidence.arrays["class_means"].shape == (10, 8, 8)
    assert [row["rank"] for row in m["per_class"]] == [1] * 10
    assert target.queries == 150 * 10 * 3 + 10


def test_a_model_trained_on_shuffled_labels_gives_evidence_but_no_weakness() -> None:
    shuffled = np.random.default_rng(0).permutation(Y)
    (f,), m = _run(_digits(shuffled), X, Y)
    assert f.severity == Severity.INFO  # the reconstructions are shown, nothing is claimed
    assert "not recognisable" in f.title
    assert f.evidence[0].arrays["images"].shape == (10, 8, 8)
    assert m["match_rate"] <= 0.5
    assert m["p_value"] > 0.05


def test_classes_budget_and_applicability() -> None:
    target = _digits(Y)
    (f,), m = _run(target, X, Y, classes=[3, 7], restarts=2)
    assert f.evidence[0].data["classes"] == [3, 7]
    assert m["classes_in_data"] == 10
    assert m["classes_matched"] == 2
    ctx = ProbeContext(X, Y, Budget(queries=500), seed=0, params={"classes": 2})
    list(ModelInversionProbe().run(target, ctx))
    assert ctx.metrics["steps"] == (500 - 2) // 6
    with pytest.raises(ProbeError, match="needs 310 queries"):
        ModelInversionProbe().run(target, ProbeContext(X, Y, Budget(queries=100)))
    with pytest.raises(ProbeError, match=r"classes \[12\]"):
        _run(target, X, Y, classes=[1, 12])
    tabular = InputSpec.from_data(X[:, :4])
    reason = ModelInversionProbe.why_not(
        Capabilities(scores=True, gradients=True, input_spec=tabular)
    )
    assert (reason or "").startswith("image inputs only")
    assert "gradients" in (ModelInversionProbe.why_not(Capabilities(scores=True)) or "")


@pytest.mark.slow
def test_the_mnist_cnn_gives_recognisable_digits() -> None:
    demo = train_mnist_cnn(seed=0, epochs=2, threads=1)
    target = TorchTarget(demo.model, input_shape=(1, 28, 28), name="mnist-cnn")
    target.set_input_spec(_image_spec(28))
    (f,), m = _run(target, demo.x_test, demo.y_test)
    assert m["classes_matched"] >= 8
    assert m["predicted_as_intended"] == 1.0
    assert f.evidence[0].arrays["images"].shape == (10, 28, 28)
