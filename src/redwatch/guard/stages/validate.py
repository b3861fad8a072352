"""validate: refuse malformed calls before the model sees them (shape, NaN/Inf, payload and
row caps) and check rows against the InputSpec (bounds, integers, categories, one-hot,
relations): block, record an event, or ignore."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from redwatch.guard.stage import Action, Decision, GuardRequest, GuardStage, StageOptions


class ValidateOptions(StageOptions):
    """Caps and what to do with rows that break the InputSpec."""

    max_payload_bytes: int | None = Field(default=1_048_576, ge=1)
    max_rows: int | None = Field(default=10_000, ge=1)
    spec_check: Literal["block", "event", "off"] = "block"
    tolerance: float = Field(default=1e-6, ge=0, allow_inf_nan=False)


class ValidateStage(GuardStage):
    """Schema and range validation from the InputSpec, plus payload and row caps."""

    name: ClassVar[str] = "validate"
    description: ClassVar[str] = (
        "Block malformed input (shape, NaN/Inf, size caps); check rows against the InputSpec."
    )
    options_model: ClassVar[type[StageOptions]] = ValidateOptions
    options: ValidateOptions

    def on_request(self, request: GuardRequest) -> Decision:
        """Block with a one-line reason (413 for size, 400 for shape, 422 for values)."""
        problem = self._structure(request)
        if problem is not None:
            reason, status = problem
            event = self.event(request, "invalid_input", Action.BLOCK, reason, status=status)
            return Decision.block(reason, status, (event,))
        return self._spec(request)

    def _structure(self, request: GuardRequest) -> tuple[str, int] | None:
        """The first structural problem as (reason, status), None when there is none."""
        opts, rows = self.options, request.rows
        if opts.max_payload_bytes is not None and request.payload_bytes > opts.max_payload_bytes:
            return (
                f"payload of {request.payload_bytes} bytes exceeds the cap of "
                f"{opts.max_payload_bytes}",
                413,
            )
        if rows.ndim != 2:
            return f"expected a 2-D array (rows, features), got shape {rows.shape}", 400
        if rows.shape[0] == 0:
            return "no rows in the request", 400
        if opts.max_rows is not None and rows.shape[0] > opts.max_rows:
            return f"{rows.shape[0]} rows exceed the cap of {opts.max_rows}", 413
        if self.spec is not None and rows.shape[1] != self.spec.n_features:
            return (
                f"rows have {rows.shape[1]} features, the model expects {self.spec.n_features}",
                400,
            )
        bad = ~np.isfinite(rows).all(axis=1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            return (
                f"{int(bad.sum())} row(s) contain NaN or infinite values (first: row {first})",
                422,
            )
        return None

    def _spec(self, request: GuardRequest) -> Decision:
        """Rows against the InputSpec: block, event or nothing as configured."""
        opts = self.options
        if self.spec is None or opts.spec_check == "off":
            return Decision.allow()
        ok = self.spec.feasible(request.rows, opts.tolerance)
        if ok.all():
            return Decision.allow()
        first = self.spec.violations(request.rows, opts.tolerance, limit=1)[0]
        reason = f"{int((~ok).sum())} of {len(ok)} row(s) outside the input spec; {first}"
        if opts.spec_check == "block":
            event = self.event(request, "spec_violation", Action.BLOCK, reason, status=422)
            return Decision.block(reason, 422, (event,))
        counts = self.spec.violation_counts(request.rows, opts.tolerance)
        event = self.event(request, "spec_violation", Action.ALLOW, reason, violations=counts)
        return Decision.allow((event,))
