"""PGD adversarial training and TRADES make a small torch model measurably more robust."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from redwatch.exceptions import UsageError
from redwatch.harden.torch_training import (
    Box,
    TrainConfig,
    adversarial_finetune,
    pgd_linf,
    robust_accuracy,
)
from redwatch.targets.spec import InputSpec

EPS = 0.1


@pytest.fixture(scope="module")
def digits() -> tuple[nn.Module, np.ndarray, np.ndarray, np.ndarray, np.ndarray, InputSpec]:
    """A small MLP trained on sklearn digits in [0, 1]; train and held-out rows."""
    torch.set_num_threads(1)
    data = load_digits()
    x, y = data.data / 16.0, data.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    xtr, ytr, xte, yte = x[:1400], y[:1400], x[1400:], y[1400:]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt, yt = torch.as_tensor(xtr, dtype=torch.float32), torch.as_tensor(ytr)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    net.eval()
    spec = InputSpec(tuple(f"p{i}" for i in range(64)), np.zeros(64), np.ones(64))
    return net, xtr, ytr, xte, yte, spec


@pytest.mark.parametrize("method", ["pgd-at", "trades"])
def test_finetune_raises_robust_accuracy_and_keeps_clean_accuracy(digits, method: str) -> None:  # type: ignore[no-untyped-def]
    net, xtr, ytr, xte, yte, spec = digits
    clean0, robust0 = robust_accuracy(net, xte, yte, spec, EPS)
    cfg = TrainConfig(method=method, eps=EPS, epochs=5, batch_size=64, seed=0)
    hardened, losses = adversarial_finetune(net, xtr, ytr, spec, cfg)
    clean1, robust1 = robust_accuracy(hardened, xte, yte, spec, EPS)
    assert len(losses) == 5
    assert clean0 > 0.9
    assert robust0 < 0.6  # the plain model breaks at this eps
    assert robust1 > robust0 + 0.15
    assert clean1 >= clean0 - 0.06
    # the input module is left untouched
    assert robust_accuracy(net, xte, yte, spec, EPS) == (clean0, robust0)


def test_inner_pgd_stays_in_ball_box_and_mask() -> None:
    spec = InputSpec(
        ("a", "b", "c"), np.zeros(3), np.array([1.0, 2.0, 4.0]), immutable=frozenset({1})
    )
    box = Box.from_spec(spec, 0.1, None)
    x = torch.tensor([[0.0, 1.0, 2.0], [1.0, 2.0, 4.0]])
    net = nn.Linear(3, 2)
    gen = torch.Generator().manual_seed(0)
    y = torch.tensor([0, 1])
    x_adv = pgd_linf(
        lambda v: nn.functional.cross_entropy(net(v), y, reduction="sum"), x, box, 5, gen
    )
    delta = (x_adv - x).abs()
    assert torch.all(delta <= torch.tensor([0.1, 0.0, 0.4]) + 1e-6)
    assert torch.all(x_adv >= 0)
    assert torch.all(x_adv <= torch.tensor([1.0, 2.0, 4.0]))
    assert torch.all(x_adv[:, 1] == x[:, 1])


@pytest.mark.parametrize(
    "cfg",
    [TrainConfig(method="fgsm"), TrainConfig(eps=0), TrainConfig(eps=2), TrainConfig(epochs=0)],
)
def test_bad_settings_are_usage_errors(digits, cfg: TrainConfig) -> None:  # type: ignore[no-untyped-def]
    net, xtr, ytr, _, _, spec = digits
    with pytest.raises(UsageError):
        adversarial_finetune(net, xtr[:10], ytr[:10], spec, cfg)
