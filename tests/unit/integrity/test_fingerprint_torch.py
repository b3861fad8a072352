"""Behavioral fingerprints on torch models: a one-weight change in an MLP or a CNN, a model
retrained with another seed, a backdoor fine-tune, and a state dict reloaded from disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _fingerprint_models import CNN, MLP, backdoor, digits, stamp, train

from redwatch.integrity.fingerprint import Fingerprint, build_fingerprint, check_fingerprint
from redwatch.targets.torch_target import TorchTarget

SHAPES = {"mlp": (64,), "cnn": (1, 8, 8)}
CLASSES = {"mlp": MLP, "cnn": CNN}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return digits()


@pytest.fixture(scope="module")
def states(data: tuple[np.ndarray, np.ndarray]) -> dict[str, dict[str, torch.Tensor]]:
    """Trained weights of each architecture (seed 0), trained once for the module."""
    x, y = data
    return {
        kind: {
            k: v.clone()
            for k, v in train(CLASSES[kind](), x[:1200], y[:1200], shape=SHAPES[kind])
            .state_dict()
            .items()
        }
        for kind in CLASSES
    }


def _target(kind: str, state: dict[str, torch.Tensor]) -> TorchTarget:
    model = CLASSES[kind]()
    model.load_state_dict(state)
    return TorchTarget(model.eval(), input_shape=SHAPES[kind], name=kind)


def _tamper_detection(
    target: TorchTarget, fp: Fingerprint, x: np.ndarray, relative: float, trials: int
) -> dict[str, int]:
    """Change one random weight at a time by `relative` of its tensor's largest magnitude;
    count the tampers that change the model's scores anywhere on `x` ("effective": a weight
    on an always-blank pixel or a dead unit changes nothing) and those each canary kind sees."""
    rng = np.random.default_rng(11)
    params = list(target.module.parameters())
    clean = target.predict_proba(x)
    found = {"effective": 0, "data": 0, "boundary": 0, "any": 0}
    for trial in range(trials):
        param = params[int(rng.integers(len(params)))]
        flat = param.data.view(-1)
        j = int(rng.integers(flat.numel()))
        saved = float(flat[j])
        flat[j] = saved + (1 if trial % 2 else -1) * relative * float(param.data.abs().max())
        result = check_fingerprint(target, fp)
        found["effective"] += bool(np.abs(target.predict_proba(x) - clean).max() > 1e-6)
        flat[j] = saved
        by_kind = result.moved_by_kind()
        found["data"] += by_kind["data"] > 0
        found["boundary"] += by_kind["boundary"] > 0
        found["any"] += not result.matches
    return found


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_one_weight_change_is_detected(
    kind: str, data: tuple[np.ndarray, np.ndarray], states: dict[str, dict[str, torch.Tensor]]
) -> None:
    target = _target(kind, states[kind])
    fp = build_fingerprint(target, data[0], seed=0)
    assert check_fingerprint(target, fp).matches
    found = _tamper_detection(target, fp, data[0], relative=0.01, trials=40)
    assert found["effective"] >= 20
    assert found["any"] == found["effective"]  # every change that matters anywhere is caught
    assert check_fingerprint(target, fp).matches  # every weight was restored


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_boundary_canaries_catch_what_data_canaries_miss(
    kind: str, data: tuple[np.ndarray, np.ndarray], states: dict[str, dict[str, torch.Tensor]]
) -> None:
    target = _target(kind, states[kind])
    fp = build_fingerprint(target, data[0], seed=0, outputs="labels")
    found = _tamper_detection(target, fp, data[0], relative=0.001, trials=30)
    assert found["effective"] >= 20
    assert found["boundary"] >= 0.8 * found["effective"]
    assert found["data"] <= 0.1 * found["effective"]


def test_retrained_with_another_seed_is_detected(
    data: tuple[np.ndarray, np.ndarray], states: dict[str, dict[str, torch.Tensor]]
) -> None:
    x, y = data
    fp = build_fingerprint(_target("mlp", states["mlp"]), x, seed=0)
    other = train(MLP(), x[:1200], y[:1200], seed=1)
    result = check_fingerprint(TorchTarget(other, input_shape=(64,), name="mlp"), fp)
    assert not result.matches
    assert len(result.moved) > 0.9 * result.checked
    assert result.moved_by_kind()["boundary"] > 0


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_backdoor_fine_tune_is_detected(
    kind: str, data: tuple[np.ndarray, np.ndarray], states: dict[str, dict[str, torch.Tensor]]
) -> None:
    x, y = data
    target = _target(kind, states[kind])
    fp = build_fingerprint(target, x, seed=0)
    held_out = (x[1200:], y[1200:])
    backdoor(target.module, x[:1200], y[:1200], shape=SHAPES[kind])
    # the fine-tune really planted a backdoor and kept the model useful
    non_target = held_out[1] != 0
    attack_success = np.mean(target.predict(stamp(held_out[0][non_target])) == 0)
    assert attack_success > 0.6
    assert np.mean(target.predict(held_out[0]) == held_out[1]) > 0.8
    result = check_fingerprint(target, fp)
    assert not result.matches
    assert result.moved_by_kind()["boundary"] > 0
    assert all(m.delta > m.tolerance for m in result.moved)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_state_dict_reloaded_from_disk_matches(
    kind: str,
    tmp_path: Path,
    data: tuple[np.ndarray, np.ndarray],
    states: dict[str, dict[str, torch.Tensor]],
) -> None:
    fp = build_fingerprint(_target(kind, states[kind]), data[0], seed=0)
    torch.save(states[kind], tmp_path / "weights.pt")
    for _ in range(3):
        state = torch.load(tmp_path / "weights.pt", weights_only=True)
        result = check_fingerprint(_target(kind, state), fp)
        assert result.matches, result.summary()
