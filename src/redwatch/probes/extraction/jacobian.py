"""Jacobian-based extraction (Papernot et al., 2017): start from a few seed rows and let the
substitute's gradients propose each next round of queries, so little natural data is needed.
The answers feed the same stealability curves as the other strategies."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from redwatch.attacks.extraction import jacobian_augmentation
from redwatch.exceptions import ProbeError
from redwatch.probes.base import ProbeContext
from redwatch.probes.extraction.common import ExtractionProbe, ask, stack_answers
from redwatch.targets.base import Target


class JacobianExtractionProbe(ExtractionProbe):
    """Papernot augmentation from params `seeds` rows (default 20), step `step` (0.1 of each
    feature's range), sign flipped every `tau` rounds when given."""

    name: ClassVar[str] = "extraction.jacobian"
    description: ClassVar[str] = "Jacobian-augmentation model theft from a few seed rows"
    default_queries: ClassVar[int] = 1000
    strategy: ClassVar[str] = "jacobian"
    default: ClassVar[bool] = False  # opt-in: off-manifold traffic, weak on images (see docs)

    def describe(self, ctx: ProbeContext) -> str:
        """Name the seed count."""
        return f"Jacobian-augmented queries grown from {ctx.metrics.get('seeds', '?')} seed rows"

    def collect(
        self, target: Target, ctx: ProbeContext, pool: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the augmentation with an oracle that records every answer it is given."""
        spec = target.capabilities.input_spec
        if spec is None:
            raise ProbeError(f"target {target.name} has no input spec; the engine must set one")
        k = min(int(ctx.params.get("seeds", 20)), len(pool), n)
        if k < 1:
            raise ProbeError("extraction.jacobian needs at least one seed row")
        seeds = pool[ctx.rng.permutation(len(pool))[:k]]
        ctx.metrics["seeds"] = k
        sent: list[np.ndarray] = []
        answers: list[np.ndarray] = []

        def oracle(rows: np.ndarray) -> np.ndarray:
            rows = spec.project(rows, rows)
            proba = ask(target, rows)
            sent.append(rows)
            answers.append(proba)
            return np.asarray(proba.argmax(axis=1))

        jacobian_augmentation(
            oracle,
            seeds,
            rounds=int(ctx.params.get("rounds", 20)),
            step=float(ctx.params.get("step", 0.1)),
            lower=spec.lower,
            upper=spec.upper,
            mask=spec.mutable_mask,
            max_queries=n,
            tau=None if ctx.params.get("tau") is None else int(ctx.params["tau"]),
            rng=ctx.rng,
        )
        return np.vstack(sent), stack_answers(answers)
