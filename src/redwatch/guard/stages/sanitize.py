"""sanitize: repair rows onto the InputSpec (clip to bounds, round integers, snap categories
and one-hot groups) and optionally squeeze each feature to 2**k levels of its range (feature
squeezing, Xu et al. 2018), which removes much of a small adversarial perturbation."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from redwatch.exceptions import UsageError
from redwatch.guard.stage import Action, Decision, GuardRequest, GuardStage, StageOptions
from redwatch.targets.spec import InputSpec


class SanitizeOptions(StageOptions):
    """Which repairs to apply; `squeeze_bits` None turns squeezing off."""

    clip: bool = True
    round_integers: bool = True
    snap_categories: bool = True
    squeeze_bits: int | None = Field(default=None, ge=1, le=16)


class SanitizeStage(GuardStage):
    """Rewrite rows so that the model only sees inputs inside the declared domain."""

    name: ClassVar[str] = "sanitize"
    description: ClassVar[str] = (
        "Clip to bounds, round integers, snap categories; optional k-bit feature squeezing."
    )
    options_model: ClassVar[type[StageOptions]] = SanitizeOptions
    options: SanitizeOptions

    def check(self) -> None:
        """Squeezing needs the bounds of each feature, so it needs an InputSpec."""
        if self.options.squeeze_bits is not None and self.spec is None:
            raise UsageError("stage sanitize: squeeze_bits needs an input spec (feature bounds)")

    def on_request(self, request: GuardRequest) -> Decision:
        """Modify when any value changed (event: rows changed, largest change); else allow."""
        if self.spec is None:
            return Decision.allow()
        rows = request.rows
        out = self.repair(rows, self.spec)
        changed = (out != rows).any(axis=1)  # exact comparison (NaN counts as changed)
        if not changed.any():
            return Decision.allow()
        biggest = float(np.max(np.abs(out - rows)))
        detail = f"{int(changed.sum())} of {len(rows)} row(s) repaired (largest change {biggest:g})"
        event = self.event(
            request, "sanitized", Action.MODIFY, detail, rows_changed=int(changed.sum())
        )
        return Decision.modify(rows=out, events=(event,))

    def repair(self, rows: np.ndarray, spec: InputSpec) -> np.ndarray:
        """The repaired copy of `rows` (the configured steps, in a fixed order)."""
        opts = self.options
        if opts.clip:
            out = np.clip(np.asarray(rows, dtype=np.float64), spec.lower, spec.upper)
        else:
            out = np.array(rows, dtype=np.float64, copy=True)
        if opts.squeeze_bits is not None:
            levels = 2**opts.squeeze_bits - 1
            unit = (out - spec.lower) / spec.scale
            out = spec.lower + np.round(np.clip(unit, 0.0, 1.0) * levels) / levels * spec.scale
        if opts.snap_categories:
            _snap_onehot(out, spec)
            for i, values in spec.categorical.items():
                allowed = np.asarray(values, dtype=np.float64)
                out[:, i] = allowed[np.abs(out[:, i, None] - allowed[None, :]).argmin(axis=1)]
        if opts.round_integers and spec.integer:
            idx = sorted(spec.integer)
            out[:, idx] = np.round(out[:, idx])
        return out


def _snap_onehot(out: np.ndarray, spec: InputSpec) -> None:
    """Set each one-hot group to a single 1 at its largest entry (in place)."""
    for group in spec.onehot:
        cols = np.asarray(group)
        top = out[:, cols].argmax(axis=1)
        out[:, cols] = 0.0
        out[np.arange(len(out)), cols[top]] = 1.0
