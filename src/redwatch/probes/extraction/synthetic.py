"""Synthetic extraction for tables: a thief with no data at all samples rows inside the
model's InputSpec (bounds, whole numbers, categories, one-hot groups) and trains surrogates on
the answers. Shows whether the input space alone is enough to copy the model."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from redwatch.probes.base import ProbeContext
from redwatch.probes.extraction.common import ExtractionProbe, answer
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.spec import InputSpec


class SyntheticExtractionProbe(ExtractionProbe):
    """Uniform rows within the InputSpec, made feasible by the spec's projection."""

    name: ClassVar[str] = "extraction.synthetic"
    description: ClassVar[str] = "Model theft with synthetic rows sampled inside the input spec"
    default_queries: ClassVar[int] = 2000
    strategy: ClassVar[str] = "synthetic"

    @classmethod
    def why_not(cls, capabilities: Capabilities) -> str | None:
        """Tables only: uniform noise images say little about an image model."""
        spec = capabilities.input_spec
        if spec is not None and spec.is_image:
            return "synthetic queries are for tabular models; the target takes images"
        return super().why_not(capabilities)

    def describe(self, ctx: ProbeContext) -> str:
        """Say where the rows came from."""
        return "synthetic rows sampled uniformly inside the model's input spec"

    def collect(
        self, target: Target, ctx: ProbeContext, pool: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample n rows (or use the pool's bounds when no spec is attached) and ask."""
        spec = target.capabilities.input_spec or InputSpec.from_data(pool)
        return answer(target, sample_within(spec, n, ctx.rng), ctx)


def sample_within(spec: InputSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """n rows uniform within the bounds; categorical columns draw one allowed value, one-hot
    groups one member; then the spec's projection rounds whole numbers and derives columns."""
    u = rng.random((n, spec.n_features))
    x = spec.lower + u * (spec.upper - spec.lower)
    for i, values in spec.categorical.items():
        x[:, i] = rng.choice(np.asarray(values, dtype=np.float64), size=n)
    for group in spec.onehot:
        cols = np.asarray(group)
        x[:, cols] = 0.0
        x[np.arange(n), cols[rng.integers(0, len(cols), size=n)]] = 1.0
    return np.asarray(spec.project(x, x))
