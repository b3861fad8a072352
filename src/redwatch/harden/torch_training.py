"""Adversarial fine-tuning of PyTorch classifiers: PGD adversarial training (Madry et al.,
2018) and TRADES (Zhang et al., 2019).

The attack inside the training loop is a small batched PGD written in torch (no numpy round
trip, no Target metering: training is not a campaign). It works in feature units with a
per-feature epsilon of eps·range, inside the box [lower, upper] of the input spec, moving only
mutable features, so that the model is trained against the same threat model the evasion
probes measure (eps as a fraction of each feature's range, or of the pixel range).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as nnf

from redwatch.exceptions import UsageError
from redwatch.targets.spec import InputSpec

METHODS = ("pgd-at", "trades")


@dataclass(frozen=True)
class TrainConfig:
    """How to fine-tune: method, L∞ eps (fraction of range), epochs and optimizer settings.

    `clean_weight` mixes the clean loss into PGD-AT (0: Madry's pure adversarial loss);
    `beta` weighs TRADES' robustness term (6 in the paper)."""

    method: str = "pgd-at"
    eps: float = 0.1
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    attack_steps: int = 10
    beta: float = 6.0
    clean_weight: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        """UsageError naming the first bad setting."""
        if self.method not in METHODS:
            raise UsageError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if not 0 < self.eps <= 1:
            raise UsageError(f"epsilon must be in (0, 1] (a fraction of the range), got {self.eps}")
        if min(self.epochs, self.batch_size, self.attack_steps) < 1:
            raise UsageError("epochs, batch size and attack steps must be at least 1")
        if self.lr <= 0 or self.beta < 0 or not 0 <= self.clean_weight <= 1:
            raise UsageError("lr must be positive, beta >= 0 and clean_weight in [0, 1]")


@dataclass(frozen=True)
class Box:
    """The attacker's feasible set in feature units: bounds, per-feature eps and mask."""

    lower: torch.Tensor
    upper: torch.Tensor
    eps: torch.Tensor  # per feature, 0 where immutable
    shape: tuple[int, ...] | None  # the module's input shape per row, None: flat rows

    @classmethod
    def from_spec(cls, spec: InputSpec, eps: float, shape: tuple[int, ...] | None) -> Box:
        """eps·range on mutable features, 0 on the others."""
        per = eps * spec.scale * spec.mutable_mask
        return cls(_t(spec.lower), _t(spec.upper), _t(per), shape)

    def project(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Clip to the eps-ball around x, then to the bounds."""
        delta = torch.maximum(torch.minimum(x_adv - x, self.eps), -self.eps)
        return torch.maximum(torch.minimum(x + delta, self.upper), self.lower)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float32))


def forward(module: Any, x: torch.Tensor, shape: tuple[int, ...] | None) -> torch.Tensor:
    """Logits for flat rows, reshaped to the module's input shape when one is known."""
    out = module(x if shape is None else x.reshape(len(x), *shape))
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise UsageError("hardening needs a torch module that returns (rows, classes) logits")
    return out


LossFn = Callable[[torch.Tensor], torch.Tensor]


def pgd_linf(
    loss_fn: LossFn, x: torch.Tensor, box: Box, steps: int, gen: torch.Generator
) -> torch.Tensor:
    """Maximise loss_fn (summed over the batch) over the box: random start, signed steps
    of 2.5·eps/steps, projection after each step. Returns detached adversarial rows."""
    step = 2.5 * box.eps / steps
    noise = torch.rand(x.shape, generator=gen) * 2 - 1
    x_adv = box.project(x + noise * box.eps, x).detach()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_fn(x_adv), x_adv)
        x_adv = box.project(x_adv.detach() + step * grad.sign(), x).detach()
    return x_adv


def _batch_loss(
    module: Any,
    xb: torch.Tensor,
    yb: torch.Tensor,
    box: Box,
    cfg: TrainConfig,
    gen: torch.Generator,
) -> torch.Tensor:
    """The method's training loss on one batch (adversarial rows crafted in eval mode)."""
    module.eval()
    if cfg.method == "trades":
        with torch.no_grad():
            p_clean = nnf.softmax(forward(module, xb, box.shape), dim=1)

        def kl(x_adv: torch.Tensor) -> torch.Tensor:
            logp = nnf.log_softmax(forward(module, x_adv, box.shape), dim=1)
            return nnf.kl_div(logp, p_clean, reduction="sum")

        x_adv = pgd_linf(kl, xb, box, cfg.attack_steps, gen)
        module.train()
        logits = forward(module, xb, box.shape)
        logp_adv = nnf.log_softmax(forward(module, x_adv, box.shape), dim=1)
        robust = nnf.kl_div(logp_adv, nnf.softmax(logits, dim=1), reduction="batchmean")
        return nnf.cross_entropy(logits, yb) + cfg.beta * robust

    def ce(x_adv: torch.Tensor) -> torch.Tensor:
        return nnf.cross_entropy(forward(module, x_adv, box.shape), yb, reduction="sum")

    x_adv = pgd_linf(ce, xb, box, cfg.attack_steps, gen)
    module.train()
    loss = nnf.cross_entropy(forward(module, x_adv, box.shape), yb)
    if cfg.clean_weight > 0:
        clean = nnf.cross_entropy(forward(module, xb, box.shape), yb)
        loss = (1 - cfg.clean_weight) * loss + cfg.clean_weight * clean
    return loss


def adversarial_finetune(
    module: Any,
    x: np.ndarray,
    y: np.ndarray,
    spec: InputSpec,
    cfg: TrainConfig,
    *,
    shape: tuple[int, ...] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[Any, list[float]]:
    """A hardened copy of `module` (the input is left untouched) and the mean loss per epoch.

    x are flat rows in feature units, y class indices; Adam, seeded shuffling and attack
    starts, the module is returned in eval mode."""
    cfg.validate()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = copy.deepcopy(module)
    box = Box.from_spec(spec, cfg.eps, shape)
    xt, yt = _t(x), torch.as_tensor(np.asarray(y), dtype=torch.int64)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    losses = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(xt), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            loss = _batch_loss(net, xt[idx], yt[idx], box, cfg, gen)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / max(len(xt), 1))
        if progress is not None:
            progress((epoch + 1) / cfg.epochs, f"{cfg.method} epoch {epoch + 1}/{cfg.epochs}")
    net.eval()
    return net, losses


def robust_accuracy(
    module: Any,
    x: np.ndarray,
    y: np.ndarray,
    spec: InputSpec,
    eps: float,
    *,
    shape: tuple[int, ...] | None = None,
    steps: int = 20,
    seed: int = 0,
    batch_size: int = 256,
) -> tuple[float, float]:
    """(clean accuracy, accuracy under torch PGD-L∞ at eps) — a quick check used by tests
    and the benchmark; campaigns measure robustness with the evasion probes instead."""
    gen = torch.Generator().manual_seed(seed)
    box = Box.from_spec(spec, eps, shape)
    xt, yt = _t(x), torch.as_tensor(np.asarray(y), dtype=torch.int64)
    module.eval()
    clean = robust = 0
    for start in range(0, len(xt), batch_size):
        xb, yb = xt[start : start + batch_size], yt[start : start + batch_size]

        def ce(x_adv: torch.Tensor, yb: torch.Tensor = yb) -> torch.Tensor:
            return nnf.cross_entropy(forward(module, x_adv, shape), yb, reduction="sum")

        x_adv = pgd_linf(ce, xb, box, steps, gen)
        with torch.no_grad():
            ok = forward(module, xb, shape).argmax(1) == yb
            clean += int(ok.sum())
            robust += int((ok & (forward(module, x_adv, shape).argmax(1) == yb)).sum())
    n = max(len(xt), 1)
    return clean / n, robust / n
