"""Adapter for PyTorch classifiers (nn.Module or TorchScript): scores and autograd gradients.

Rows arrive as flattened float64 numpy arrays and are reshaped to `input_shape`; the model
runs in float32, eval mode, in batches. torch is imported only here, so `redwatch.targets`
stays importable without the optional torch extra.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch

from redwatch.attacks.losses import dlr_min_classes
from redwatch.exceptions import ProbeError, TargetError, UsageError
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities

_OUTPUTS = ("logits", "probabilities")


class TorchTarget(Target):
    """A torch classifier returning logits (default) or probabilities per row."""

    gradient_losses: tuple[str, ...] = ("ce", "dlr")

    def __init__(
        self,
        module: Any,
        input_shape: tuple[int, ...] | None = None,
        n_classes: int | None = None,
        name: str = "torch",
        batch_size: int = 256,
        outputs: str = "logits",
    ) -> None:
        if outputs not in _OUTPUTS:
            raise UsageError(f"outputs must be one of {', '.join(_OUTPUTS)}, not {outputs!r}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be positive, not {batch_size}")
        self.module = module
        self.input_shape = input_shape
        self.n_features = None if input_shape is None else int(np.prod(input_shape))
        self.name = name
        self.batch_size = batch_size
        self.outputs = outputs
        self.capabilities = Capabilities(
            labels=True,
            scores=True,
            gradients=True,
            trainable=_retrainable(module),
            n_classes=n_classes,
        )

    # -- helpers --------------------------------------------------------------------------
    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
        if self.input_shape is not None:
            if int(np.prod(self.input_shape)) != x.shape[1]:
                raise TargetError(
                    f"rows have {x.shape[1]} values, input_shape {self.input_shape} needs "
                    f"{int(np.prod(self.input_shape))}"
                )
            t = t.reshape(len(x), *self.input_shape)
        return t

    def _forward(self, t: torch.Tensor) -> torch.Tensor:
        self.module.eval()
        try:
            out = self.module(t)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TargetError(f"torch model {self.name} failed on the input: {first}") from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise TargetError(f"torch model {self.name} must return a (rows, classes) tensor")
        self._learn_classes(int(out.shape[1]))
        return out

    def _learn_classes(self, k: int) -> None:
        if self.capabilities.n_classes is None:
            self.capabilities = replace(self.capabilities, n_classes=k)
        elif self.capabilities.n_classes != k:
            raise TargetError(
                f"torch model {self.name} returned {k} classes, expected "
                f"{self.capabilities.n_classes}"
            )

    def _log_probs(self, out: torch.Tensor) -> torch.Tensor:
        if self.outputs == "logits":
            return torch.log_softmax(out, dim=1)
        return torch.log(out.clamp_min(1e-12))

    def _batches(self, n: int) -> range:
        return range(0, n, self.batch_size)

    # -- Target ---------------------------------------------------------------------------
    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        chunks = []
        with torch.no_grad():
            for i in self._batches(len(x)):
                out = self._forward(self._tensor(x[i : i + self.batch_size]))
                chunks.append(self._log_probs(out).exp().double().cpu().numpy())
        if not chunks:
            return np.zeros((0, self.capabilities.n_classes or 0))
        return np.concatenate(chunks)

    def _loss_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        grads = []
        for i in self._batches(len(x)):
            t = self._tensor(x[i : i + self.batch_size]).requires_grad_(True)
            logp = self._log_probs(self._forward(t))
            target = torch.as_tensor(y[i : i + self.batch_size], dtype=torch.long)
            loss = torch.nn.functional.nll_loss(logp, target, reduction="sum")
            (grad,) = torch.autograd.grad(loss, t)
            grads.append(grad.reshape(len(t), -1).double().cpu().numpy())
        return np.concatenate(grads) if grads else np.zeros_like(x)

    def _loss_value_and_gradient(
        self, x: np.ndarray, y: np.ndarray, loss: str, y_target: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-row CE or DLR values and input gradients: one forward and backward per batch."""
        values, grads = [], []
        for i in self._batches(len(x)):
            rows = slice(i, i + self.batch_size)
            t = self._tensor(x[rows]).requires_grad_(True)
            out = self._forward(t)
            # DLR is shift-invariant: log-probabilities serve as logits for probability outputs
            logits = out if self.outputs == "logits" else self._log_probs(out)
            yt = None if y_target is None else torch.as_tensor(y_target[rows], dtype=torch.long)
            per_row = _torch_loss(
                logits, self._log_probs(out), torch.as_tensor(y[rows], dtype=torch.long), loss, yt
            )
            (grad,) = torch.autograd.grad(per_row.sum(), t)
            values.append(per_row.detach().double().cpu().numpy())
            grads.append(grad.reshape(len(t), -1).double().cpu().numpy())
        if not grads:
            return np.zeros(0), np.zeros_like(x)
        return np.concatenate(values), np.concatenate(grads)

    def ensure_n_classes(self) -> int:
        """Number of classes, running one forward pass on zeros if it is not known yet."""
        if self.capabilities.n_classes is None:
            if self.input_shape is None:
                raise TargetError(f"torch model {self.name} needs input_shape or n_classes")
            with torch.no_grad():
                self._forward(torch.zeros((1, *self.input_shape)))
        assert self.capabilities.n_classes is not None
        return self.capabilities.n_classes


def _torch_loss(
    logits: torch.Tensor,
    logp: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    y_target: torch.Tensor | None,
) -> torch.Tensor:
    """Per-row CE or DLR, with the sign convention of redwatch.attacks.losses."""
    if loss == "ce":
        labels = y if y_target is None else y_target
        return -logp.gather(1, labels[:, None])[:, 0]
    k = int(logits.shape[1])
    if k < dlr_min_classes(y_target is not None):
        need = dlr_min_classes(y_target is not None)
        raise ProbeError(f"the DLR loss needs at least {need} classes, got {k}")
    top = logits.sort(dim=1, descending=True).values
    z_y = logits.gather(1, y[:, None])[:, 0]
    if y_target is not None:
        z_t = logits.gather(1, y_target[:, None])[:, 0]
        return (z_y - z_t) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)
    others = logits.scatter(1, y[:, None], float("-inf"))
    return -(z_y - others.max(dim=1).values) / (top[:, 0] - top[:, 2] + 1e-12)


def _retrainable(module: Any) -> bool:
    """True for an nn.Module redwatch.recipe can re-initialise (not a TorchScript module)."""
    return isinstance(module, torch.nn.Module) and not isinstance(module, torch.jit.ScriptModule)
