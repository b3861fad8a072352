"""Run the hardening method that fits the model kind and describe what was done, for the
record: adversarial fine-tuning for PyTorch modules, augmentation and refit otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from redwatch.exceptions import UsageError
from redwatch.harden.tabular import AugmentConfig, augment_and_refit
from redwatch.targets.base import Target
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

if TYPE_CHECKING:
    from redwatch.harden.pipeline import HardenRequest, Progress, _Split


def harden_model(
    target: Target,
    split: _Split,
    spec: InputSpec,
    method: str,
    eps: float,
    req: HardenRequest,
    progress: Progress | None,
) -> tuple[Any, dict[str, Any]]:
    """(hardened model, settings for the record) on the training part of the split."""
    x, y = split.train.x, split.y_train
    if isinstance(target, SklearnTarget):
        cfg = AugmentConfig(eps=eps, rounds=req.rounds, seed=req.seed)
        model, report = augment_and_refit(target.estimator, x, y, spec, cfg)
        return model, {
            "name": "augment",
            "epsilon": eps,
            "norm": "inf",
            "rounds": req.rounds,
            "rows_attacked_per_round": cfg.max_rows,
            "attack": report.attack,
            "adversarial_rows_added": report.added,
            "per_round": report.rounds,
            "seed": req.seed,
        }
    from redwatch.harden.torch_training import TrainConfig, adversarial_finetune
    from redwatch.targets.torch_target import TorchTarget

    if not isinstance(target, TorchTarget):
        raise UsageError(f"cannot harden a {target.kind} model with {method}")

    tcfg = TrainConfig(method=method, eps=eps, epochs=req.epochs, seed=req.seed)
    with _bar(progress, f"harden · {method}") as report_fn:
        model, losses = adversarial_finetune(
            target.module, x, y, spec, tcfg, shape=target.input_shape, progress=report_fn
        )
    return model, {
        "name": method,
        "epsilon": eps,
        "norm": "inf",
        "epochs": tcfg.epochs,
        "batch_size": tcfg.batch_size,
        "lr": tcfg.lr,
        "attack_steps": tcfg.attack_steps,
        **({"beta": tcfg.beta} if method == "trades" else {"clean_weight": tcfg.clean_weight}),
        "epoch_losses": [float(v) for v in np.round(losses, 5)],
        "seed": req.seed,
    }


class _NoBar:
    """A context manager yielding a progress callback that shows nothing."""

    def __enter__(self) -> Callable[[float, str], None]:
        return lambda fraction, message: None

    def __exit__(self, *exc: object) -> None:
        return None


def _bar(progress: Progress | None, name: str) -> Any:
    """The caller's progress bar for one step, or a silent one."""
    return _NoBar() if progress is None else progress(name)
