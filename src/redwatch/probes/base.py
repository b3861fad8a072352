"""Probe base class, Budget and ProbeContext. A probe is a declaration plus one method:
`run(target, ctx)` returns Findings and never writes anywhere."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from redwatch.findings import Category, Finding
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities

ProgressFn = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    """Default progress callback: ignore."""


@dataclass(frozen=True)
class Budget:
    """What a probe may spend: model queries (rows) and wall-clock seconds. None: unlimited."""

    queries: int | None = None
    seconds: float | None = None

    def split(self, weights: list[float]) -> list[Budget]:
        """Divide this budget in proportion to weights (used by the planner)."""
        total = float(sum(weights)) or 1.0
        return [
            Budget(
                queries=None if self.queries is None else max(1, int(self.queries * w / total)),
                seconds=None if self.seconds is None else self.seconds * w / total,
            )
            for w in weights
        ]


@dataclass
class ProbeContext:
    """Everything a probe gets besides the target: data, budget, randomness, progress.

    `x` are evaluation inputs (rows x features, flattened for images) and `y` their true
    class indices. `params` holds probe options from the command line or redwatch.yaml.
    A probe puts its headline measurements in `metrics` even when it confirms no weakness,
    so that the report shows what was measured, not only what failed.
    """

    x: np.ndarray
    y: np.ndarray
    budget: Budget = field(default_factory=Budget)
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    progress: ProgressFn = _no_progress
    started: float = field(default_factory=time.monotonic)
    metrics: dict[str, Any] = field(default_factory=dict)  # headline numbers, finding or not
    artifact: Path | None = None  # the model file the target was loaded from, if any
    # sensitive columns by name (--sensitive), raw values row-aligned with x; text stays text
    sensitive: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def rng(self) -> np.random.Generator:
        """A fresh generator from the seed, so a probe is reproducible on its own."""
        return np.random.default_rng(self.seed)

    @property
    def deadline(self) -> float | None:
        """Monotonic time by which the probe must stop, or None."""
        return None if self.budget.seconds is None else self.started + self.budget.seconds

    def time_left(self) -> float | None:
        """Seconds left in the time budget (None: unlimited)."""
        d = self.deadline
        return None if d is None else max(0.0, d - time.monotonic())

    def out_of_time(self) -> bool:
        """True once the time budget is spent."""
        left = self.time_left()
        return left is not None and left <= 0.0


class Probe(ABC):
    """One red-team test. Subclasses declare the class variables and implement `run`."""

    name: ClassVar[str]
    category: ClassVar[Category]
    requires: ClassVar[frozenset[str]]
    references: ClassVar[tuple[str, ...]]
    cost: ClassVar[int] = 1  # relative cost; the planner runs cheap probes first
    description: ClassVar[str] = ""
    needs_labels: ClassVar[bool] = False
    default: ClassVar[bool] = True  # False: runs only when named (e.g. optional-extra probes)

    @classmethod
    def applies(cls, capabilities: Capabilities) -> bool:
        """True when the target exposes what this probe requires."""
        return cls.why_not(capabilities) is None

    @classmethod
    def why_not(cls, capabilities: Capabilities) -> str | None:
        """Why this probe cannot run on such a target (None: it can). Override to add
        conditions beyond `requires`, e.g. image inputs only or an optional extra."""
        missing = sorted(cls.requires - capabilities.names)
        if missing:
            have = ", ".join(sorted(capabilities.names)) or "nothing"
            return f"needs {', '.join(missing)}; target exposes {have}"
        return None

    @abstractmethod
    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Attack the target within ctx.budget and return what was found."""
