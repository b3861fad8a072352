"""Knockoff extraction (Orekondy et al., 2019, random strategy): query the model with natural
rows of its domain — a transfer set from a CSV file, or the campaign's own rows that are not
held out — and train surrogates on the answers."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from redwatch.attacks.extraction import knockoff_queries
from redwatch.exceptions import DataError
from redwatch.probes.base import ProbeContext
from redwatch.probes.extraction.common import ExtractionProbe, answer
from redwatch.targets.base import Target


class KnockoffExtractionProbe(ExtractionProbe):
    """Natural queries (params `transfer`: CSV path; default: the campaign's spare rows)."""

    name: ClassVar[str] = "extraction.knockoff"
    description: ClassVar[str] = "Knockoff model theft: surrogates trained on natural queries"
    default_queries: ClassVar[int] = 2000
    strategy: ClassVar[str] = "knockoff"

    def describe(self, ctx: ProbeContext) -> str:
        """Name the transfer set."""
        path = ctx.params.get("transfer")
        return f"natural rows from {path}" if path else "natural rows of the campaign's data"

    def collect(
        self, target: Target, ctx: ProbeContext, pool: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each natural row at most once (a thief gains nothing from asking twice)."""
        path = ctx.params.get("transfer")
        natural = pool if not path else read_transfer(Path(str(path)), target)
        if len(natural) == 0:
            return natural, np.zeros((0, 0))
        ctx.metrics["transfer_rows"] = len(natural)
        rows = knockoff_queries(natural, min(n, len(natural)), rng=ctx.rng)
        return answer(target, rows, ctx)


def read_transfer(path: Path, target: Target) -> np.ndarray:
    """A transfer-set CSV (header row) as model inputs: the spec's feature columns by name
    when they are all there, else every column when the count matches."""
    spec = target.capabilities.input_spec
    n_features = spec.n_features if spec is not None else target.n_features
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"transfer set not found: {path}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read transfer set {path}: {str(exc).splitlines()[0]}") from None
    if spec is not None and set(spec.feature_names) <= set(frame.columns):
        frame = frame[list(spec.feature_names)]
    if n_features is not None and frame.shape[1] != n_features:
        raise DataError(
            f"transfer set {path} has {frame.shape[1]} columns, the model expects {n_features}"
        )
    try:
        x = frame.to_numpy(dtype=np.float64)
    except ValueError:
        raise DataError(f"transfer set {path} has non-numeric values") from None
    if len(x) == 0 or not np.isfinite(x).all():
        raise DataError(f"transfer set {path} is empty or has NaN / infinite values")
    return x
