"""Stealability curves: checkpoints, fidelity / balanced fidelity / accuracy, modes."""

import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import UsageError
from redwatch.ip.stealability import HeldOut, checkpoints, measure_point, steal_curves
from redwatch.ip.surrogate import output_modes


def test_checkpoints_are_distinct_and_increasing() -> None:
    assert checkpoints(1000) == (100, 250, 500, 1000)
    assert checkpoints(3) == (1, 2, 3)
    with pytest.raises(UsageError):
        checkpoints(0)
    with pytest.raises(UsageError):
        checkpoints(10, (0.0, 1.0))


def test_measure_point_balanced_fidelity_sees_through_a_constant_answer() -> None:
    target = np.array([0] * 9 + [1])
    held = HeldOut(np.zeros((10, 1)), target, target)
    point = measure_point(np.zeros(10, dtype=np.int64), held, 5)
    assert point.fidelity == pytest.approx(0.9)
    assert point.balanced_fidelity == pytest.approx(0.5)
    assert held.majority_fidelity == pytest.approx(0.9)


@pytest.mark.slow
def test_curves_for_every_mode_on_a_real_model() -> None:
    data = load_digits()
    x, y = data.data / 16.0, data.target
    model = LogisticRegression(max_iter=1000).fit(x[:900], y[:900])
    held = HeldOut(x[1400:], model.predict(x[1400:]), y[1400:])
    queries = x[900:1400]
    result = steal_curves(
        queries, model.predict_proba(queries), held, modes=output_modes(), sizes=(50, 500)
    )
    assert result.modes == ("probabilities", "label", "rounded")
    for curve in result.curves:
        assert [p.queries for p in curve.points] == [50, 500]
        assert curve.final.fidelity > curve.points[0].fidelity
    probs = result.curve("probabilities")
    assert probs.final.fidelity > 0.9
    assert probs.queries_to_reach(0.9) == 500
    assert probs.queries_to_reach(1.01) is None
    assert result.target_accuracy == pytest.approx(np.mean(held.target_labels == y[1400:]))
    doc = result.to_dict()
    assert set(doc["curves"]) == {"probabilities", "label", "rounded"}
    assert 0 < result.lift(probs.final.fidelity) <= 1


def test_should_stop_keeps_the_first_checkpoint_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    p = np.column_stack([x[:, 0], 1 - x[:, 0]])
    held = HeldOut(x, p.argmax(axis=1))
    result = steal_curves(
        x, p, held, modes=output_modes(), sizes=(10, 40), should_stop=lambda: True
    )
    assert [len(c.points) for c in result.curves] == [1, 1, 1]
    assert result.target_accuracy is None


def test_mismatched_answers_are_usage_errors() -> None:
    held = HeldOut(np.zeros((2, 1)), np.zeros(2, dtype=np.int64))
    with pytest.raises(UsageError):
        steal_curves(np.zeros((3, 1)), np.zeros((2, 2)), held, modes=output_modes(), sizes=(1,))
    with pytest.raises(UsageError, match="modes"):
        steal_curves(np.zeros((2, 1)), np.eye(2), held, modes={}, sizes=(1,))


def test_the_learner_and_its_fallback_note_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 4))
    p = np.column_stack([x[:, 0], 1 - x[:, 0]])
    held = HeldOut(x, p.argmax(axis=1))
    table = steal_curves(x, p, held, modes=output_modes(), sizes=(40,))
    assert table.learner == "mlp"
    assert "learner_note" not in table.to_dict()
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    image = steal_curves(x, p, held, modes=output_modes(), sizes=(40,), image_shape=(1, 2, 2))
    assert image.learner == "mlp"
    assert "torch is not installed" in image.to_dict()["learner_note"]
