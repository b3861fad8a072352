"""output: harden what the model gives back, to make extraction and inversion costlier:
reverse-sigmoid perturbation (Lee et al. 2019), top-k, rounding, or labels only. The
predicted label never changes."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from redwatch.guard.stage import (
    Action,
    Decision,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)

_EPS = 1e-6


class OutputOptions(StageOptions):
    """Applied in this order: reverse sigmoid, top-k, rounding, label-only."""

    decimals: int | None = Field(default=4, ge=0, le=12)
    top_k: int | None = Field(default=None, ge=1)
    label_only: bool = False
    reverse_sigmoid_beta: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    reverse_sigmoid_gamma: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class OutputStage(GuardStage):
    """Rewrite probabilities so that they leak less while the top-1 label stays the same."""

    name: ClassVar[str] = "output"
    description: ClassVar[str] = (
        "Harden probabilities: reverse sigmoid, top-k, rounding, label-only; labels unchanged."
    )
    options_model: ClassVar[type[StageOptions]] = OutputOptions
    options: OutputOptions

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Modify the probabilities (event: what was applied); allow when there are none."""
        if response.proba is None:
            return Decision.allow()
        proba = self.harden(np.asarray(response.proba, dtype=np.float64))
        if np.array_equal(proba, response.proba):
            return Decision.allow()
        steps = self._steps()
        event = self.event(request, "output_hardened", Action.MODIFY, ", ".join(steps))
        new = GuardResponse(labels=response.labels, proba=proba, classes=response.classes)
        return Decision.modify(response=new, events=(event,))

    def _steps(self) -> list[str]:
        """Names of the configured steps, for the event."""
        opts = self.options
        named = [
            (
                opts.reverse_sigmoid_beta is not None,
                f"reverse sigmoid beta={opts.reverse_sigmoid_beta}",
            ),
            (opts.top_k is not None, f"top-{opts.top_k}"),
            (opts.decimals is not None, f"rounded to {opts.decimals} decimals"),
            (opts.label_only, "label only"),
        ]
        return [text for on, text in named if on]

    def harden(self, proba: np.ndarray) -> np.ndarray:
        """Hardened copy of an (n, k) probability matrix; each row keeps its argmax."""
        opts = self.options
        top = proba.argmax(axis=1)
        out = proba.copy()
        if opts.reverse_sigmoid_beta is not None:
            out = reverse_sigmoid(out, opts.reverse_sigmoid_beta, opts.reverse_sigmoid_gamma)
            out = _keep_argmax(out, top)
        if opts.top_k is not None and opts.top_k < out.shape[1]:
            cut = np.argsort(-out, axis=1, kind="stable")[:, opts.top_k :]
            np.put_along_axis(out, cut, 0.0, axis=1)
        if opts.decimals is not None:
            step = 10.0**-opts.decimals
            out = np.round(_keep_argmax(np.round(out, opts.decimals), top, step), opts.decimals)
        if opts.label_only:
            out = np.zeros_like(out)
            out[np.arange(len(out)), top] = 1.0
        return out


def reverse_sigmoid(proba: np.ndarray, beta: float, gamma: float) -> np.ndarray:
    """y - beta * (sigmoid(gamma * logit(y)) - 1/2), clipped at 0 and renormalised: the
    output stays close to y but its gradient misleads a model trained to imitate it."""
    y = np.clip(proba, _EPS, 1 - _EPS)
    logit = np.log(y) - np.log1p(-y)
    perturbed = np.clip(y - beta * (1.0 / (1.0 + np.exp(-gamma * logit)) - 0.5), 0.0, None)
    total = perturbed.sum(axis=1, keepdims=True)
    return np.where(total > 0, perturbed / np.where(total > 0, total, 1.0), proba)


def _keep_argmax(proba: np.ndarray, top: np.ndarray, step: float = 1e-12) -> np.ndarray:
    """Make column `top` each row's strict maximum again, so that the label the client reads
    is always the model's: a smaller top value is swapped with the largest rival; a tie
    (e.g. two classes rounded to 0.5) moves `step` (one unit of the last kept decimal) from
    the rival to the top class."""
    rows = np.arange(len(proba))
    if ((proba >= proba[rows, top][:, None]).sum(axis=1) == 1).all():
        return proba  # the common case: already the strict maximum everywhere, no copy
    out = proba
    for _ in range(proba.shape[1]):
        others = out.copy()
        others[rows, top] = -np.inf
        rival = others.argmax(axis=1)
        wrong = np.flatnonzero(others[rows, rival] >= out[rows, top])
        if wrong.size == 0:
            return out
        if out is proba:
            out = proba.copy()
        for r in wrong:
            mine, theirs = out[r, top[r]], out[r, rival[r]]
            if mine < theirs:
                out[r, top[r]], out[r, rival[r]] = theirs, mine
            else:
                out[r, top[r]] = mine + step
                out[r, rival[r]] = max(0.0, theirs - step)
    return out
