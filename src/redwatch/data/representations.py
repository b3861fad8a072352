"""Learned representations for the backdoor detector: the penultimate-layer activations of a
torch model (the user's, or a small CNN / MLP that redwatch trains on the data itself).
A backdoor shows up there as a separate direction inside the target class. Needs torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from redwatch.exceptions import TargetError, UsageError
from redwatch.ip.recipe import fit_torch


class Reshape(nn.Module):
    """Reshape a batch to (n, *shape): accepts flat rows or images alike."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Any batch of the right size in, (n, *shape) out."""
        return x.reshape(len(x), *self.shape)


def image_net(shape: tuple[int, ...], classes: int) -> nn.Sequential:
    """Two conv blocks and one linear head for (C, H, W) images; the penultimate layer is the
    flattened conv map, so a localized trigger keeps its position."""
    channels, height, width = shape
    pooled = 32 * (height // 4) * (width // 4)
    if pooled == 0:
        raise UsageError(f"images of shape {shape} are too small for the backdoor CNN (need 4x4)")
    return nn.Sequential(
        Reshape((channels, height, width)),
        nn.Conv2d(channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(pooled, classes),
    )


def table_net(features: int, classes: int) -> nn.Sequential:
    """A two-hidden-layer MLP for tabular rows; the penultimate layer has 64 units."""
    return nn.Sequential(
        nn.Linear(features, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, classes),
    )


def scaled_inputs(x: np.ndarray, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """float32 inputs: images scaled into [0, 1] when given as 0-255, tables standardized."""
    data = np.asarray(x, dtype=np.float32)
    if image_shape is not None:
        top = float(np.abs(data).max()) if data.size else 1.0
        return data / top if top > 1.0 else data
    centre = data.mean(axis=0)
    spread = data.std(axis=0)
    return np.asarray((data - centre) / np.where(spread > 0, spread, 1.0), dtype=np.float32)


def train_own_net(
    x: np.ndarray,
    y: np.ndarray,
    *,
    image_shape: tuple[int, ...] | None,
    seed: int,
    epochs: int,
) -> nn.Module:
    """A small CNN (images) or MLP (tables) trained, seeded, on the possibly poisoned data."""
    classes = int(y.max()) + 1
    torch.manual_seed(seed)
    if image_shape is not None:
        net = image_net(tuple(image_shape), classes)
    else:
        net = table_net(x.shape[1], classes)
    trained: nn.Module = fit_torch(net, x, y, epochs=epochs, seed=seed)
    return trained


def last_linear(model: nn.Module) -> nn.Linear:
    """The final nn.Linear of a module: its input is the penultimate representation."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TargetError(f"{type(model).__name__} has no nn.Linear layer to read activations at")
    return linears[-1]


def penultimate(
    model: nn.Module, x: np.ndarray, *, input_shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Activations entering the model's last linear layer, one row per input, batched."""
    captured: list[Any] = []
    hook = last_linear(model).register_forward_hook(
        lambda _m, inputs, _o: captured.append(inputs[0].detach().reshape(len(inputs[0]), -1))
    )
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(x), 512):
                batch = torch.as_tensor(x[start : start + 512], dtype=torch.float32)
                if input_shape is not None:
                    batch = batch.reshape(len(batch), *input_shape)
                model(batch)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise TargetError(f"the model cannot be run on the data: {_first_line(exc)}") from None
    finally:
        hook.remove()
    if not captured:
        raise TargetError("the model's last linear layer was never called")
    return np.asarray(torch.cat(captured).numpy(), dtype=np.float64)


def _first_line(exc: BaseException) -> str:
    """The first line of an exception message (torch's can span many)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
