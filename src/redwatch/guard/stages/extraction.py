"""extraction: model-extraction detection on answered queries (PRADA per client, a pool of
young clients across API keys, and an out-of-reference rate test). See
docs/guard-extraction.md.

The stage needs each query's predicted class, so it works in on_response. With `action:
event` it only reports; with `action: block` the flagged client (or every client in a
flagged pool) is refused (403, or 429 with retry_after) for one window, starting with the
call that raised the flag. Reports are bounded: one event per client (or pool) per window.
"""

from __future__ import annotations

import hashlib
import math
import threading
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from redwatch.exceptions import UsageError
from redwatch.guard.extraction import (
    Calibration,
    ExtractionMonitor,
    Flag,
    MonitorSettings,
    ReferenceTest,
    calibrate_threshold,
    fit_reference,
)
from redwatch.guard.keys import key_id
from redwatch.guard.lru import LruMap
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)

Threshold = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]


class ExtractionOptions(StageOptions):
    """Options of the extraction stage (defaults in docs/guard-extraction.md)."""

    action: Literal["event", "block"] = "event"
    block_status: Literal[403, 429] = 403
    block_pooled: bool = True
    by: Literal["key", "client"] = "key"
    prada: bool = True
    min_queries: int = Field(default=30, ge=10, le=1000)
    threshold: Threshold | Literal["auto"] = "auto"
    max_queries_per_client: int = Field(default=1000, ge=10, le=5000)
    max_clients: int = Field(default=1000, ge=1)
    window_s: float = Field(default=3600.0, gt=0, allow_inf_nan=False)
    pool: bool = True
    max_pool_queries: int = Field(default=2000, ge=10, le=5000)
    out_of_reference: bool = True
    out_rate: float = Field(default=0.01, gt=0, lt=0.5, allow_inf_nan=False)
    out_alpha: float = Field(default=1e-6, gt=0, le=0.01, allow_inf_nan=False)
    reference: str | None = None
    max_reference_rows: int = Field(default=2000, ge=10, le=100_000)
    test_every: int = Field(default=1, ge=1)
    max_memory_mb: float = Field(default=1024.0, gt=0, allow_inf_nan=False)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> ExtractionOptions:
        """A client's window must be able to hold the queries its test needs, and at least
        one signal must be on."""
        if not (self.prada or self.out_of_reference):
            raise ValueError("prada and out_of_reference are both off: nothing to detect")
        for name in ("max_queries_per_client", "max_pool_queries"):
            if getattr(self, name) < self.min_queries:
                raise ValueError(f"{name} must be >= min_queries ({self.min_queries})")
        return self


class ExtractionStage(GuardStage):
    """PRADA per client and pooled across young clients, plus an out-of-reference rate
    test; events of kind `extraction`, optional blocking of the flagged clients."""

    name: ClassVar[str] = "extraction"
    description: ClassVar[str] = (
        "Flag model-extraction query patterns (PRADA per client and pooled across keys, "
        "out-of-reference rate); report or block the clients."
    )
    options_model: ClassVar[type[StageOptions]] = ExtractionOptions
    options: ExtractionOptions
    monitor: ExtractionMonitor
    calibration: Calibration | None
    blocked: LruMap[str, float]
    _lock: threading.Lock

    def check(self) -> None:
        """Scale, reference test, calibrated threshold, memory bound: all once, here."""
        opts = self.options
        rows = self._reference_rows()
        scale = self._scale(rows)
        sample = _subsample(rows, opts.max_reference_rows, opts.seed)
        scaled = None if sample is None else sample / scale
        reference = self._reference_test(scaled)
        self.calibration = self._calibrate(sample, scaled)
        threshold = opts.threshold if self.calibration is None else self.calibration.threshold
        threshold = 0.0 if threshold == "auto" else threshold  # auto without PRADA: unused
        settings = MonitorSettings(
            opts.min_queries, float(threshold), opts.max_queries_per_client, opts.max_clients,
            opts.window_s, opts.pool, opts.max_pool_queries, opts.test_every, opts.prada,
        )  # fmt: skip
        self.monitor = ExtractionMonitor(settings, scale, reference)
        bound = self.monitor.memory_bound() / 2**20
        if bound > opts.max_memory_mb:
            raise UsageError(
                f"stage extraction: up to {bound:.0f} MiB of query history for "
                f"{len(scale)} features exceeds max_memory_mb ({opts.max_memory_mb:g}); "
                "lower max_clients or max_queries_per_client"
            )
        self.blocked = LruMap(opts.max_clients)
        self._lock = threading.Lock()

    def _reference_rows(self) -> np.ndarray | None:
        """Clean rows when a signal needs them (auto threshold, out-of-reference) or when
        there is no spec to scale by; None when nothing needs them."""
        opts = self.options
        needs = (opts.prada and opts.threshold == "auto") or opts.out_of_reference
        if not needs and self.spec is not None:
            return None
        if not needs and opts.reference is None and self.context.reference is None:
            raise UsageError(
                "stage extraction: needs an InputSpec or reference rows to scale features"
            )
        return self.context.reference_rows(self.name, opts.reference)

    def _scale(self, rows: np.ndarray | None) -> np.ndarray:
        """Per-feature divisor: the spec's ranges, else the reference's standard deviations;
        features with no spread are left in their own units."""
        if self.spec is not None:
            spread = np.asarray(self.spec.upper - self.spec.lower, dtype=np.float64)
        else:
            assert rows is not None
            spread = rows.std(axis=0)
        return np.where(spread > 1e-9, spread, 1.0)

    def _reference_test(self, scaled: np.ndarray | None) -> ReferenceTest | None:
        """The out-of-reference test, when enabled."""
        opts = self.options
        if not opts.out_of_reference or scaled is None:
            return None
        return fit_reference(
            scaled, rate=opts.out_rate, alpha=opts.out_alpha, max_queries=opts.max_pool_queries
        )

    def _calibrate(
        self, sample: np.ndarray | None, scaled: np.ndarray | None
    ) -> Calibration | None:
        """The `auto` threshold from simulated benign clients (classes from the local model
        when there is one, else one class for all)."""
        opts = self.options
        if not opts.prada or opts.threshold != "auto" or sample is None or scaled is None:
            return None
        if len(sample) < 2 * opts.min_queries:
            raise UsageError(
                f"stage extraction: threshold auto needs at least {2 * opts.min_queries} "
                f"reference rows, got {len(sample)}; set a numeric threshold"
            )
        codes = np.zeros(len(sample), dtype=np.int64)
        if self.context.predict_proba is not None:
            codes = np.asarray(self.context.predict_proba(sample)).argmax(axis=1)
        rng = np.random.default_rng(opts.seed)
        return calibrate_threshold(scaled, codes, opts.min_queries, rng)

    @property
    def threshold(self) -> float:
        """The W threshold in force (calibrated or given)."""
        return self.monitor.settings.threshold

    def identity(self, request: GuardRequest) -> str:
        """Whom the tests track: `key:<id>:<digest>` per API key, else `client:<id>`."""
        if self.options.by == "client" or request.key is None:
            return f"client:{request.client}"
        digest = hashlib.sha256(request.key.encode("utf-8")).hexdigest()[:12]
        return f"key:{key_id(request.key) or '-'}:{digest}"

    def on_request(self, request: GuardRequest) -> Decision:
        """Refuse a client that is blocked for suspected extraction (action: block)."""
        if self.options.action != "block":
            return Decision.allow()
        who = self.identity(request)
        with self._lock:
            until = self.blocked.get(who)
            if until is not None and request.timestamp >= until:
                self.blocked.pop(who)
                until = None
        if until is None:
            return Decision.allow()
        return self._refusal(request, who, until)

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Feed the answered rows to the monitor; events for its flags, and a block when the
        caller is among the flagged clients and the action is block."""
        labels = np.asarray(response.labels).reshape(-1)
        if request.rows.ndim != 2 or len(labels) != len(request.rows):
            return Decision.allow()
        who = self.identity(request)
        flags = self.monitor.observe(who, request.rows, labels, request.timestamp)
        if not flags:
            return Decision.allow()
        events = tuple(self._event(request, flag) for flag in flags)
        until = request.timestamp + self.options.window_s
        with self._lock:
            for flag in flags:
                for member in flag.members if self._blocks(flag) else ():
                    self.blocked.put(member, until)
        if not any(self._blocks(flag) and who in flag.members for flag in flags):
            return Decision.allow(events)
        return Decision.block(self._reason(), self.options.block_status, events)

    def _blocks(self, flag: Flag) -> bool:
        """Whether this flag blocks its clients (action block; pooled ones if block_pooled)."""
        if self.options.action != "block":
            return False
        return flag.scope == "client" or self.options.block_pooled

    def _event(self, request: GuardRequest, flag: Flag) -> GuardEvent:
        """The `extraction` event of one flag."""
        action = Action.BLOCK if self._blocks(flag) else Action.ALLOW
        return self.event(request, "extraction", action, flag.detail(), **flag.data())

    def _reason(self) -> str:
        """The one-line reason of every refusal (it names no signal an attacker could tune
        against)."""
        return "suspected model extraction; this client is blocked for now"

    def _refusal(self, request: GuardRequest, who: str, until: float) -> Decision:
        """The block of a later call from a flagged client (one event per refused call)."""
        status = self.options.block_status
        data: dict[str, object] = {"status": status, "identity": who, "until": until}
        if status == 429:
            data["retry_after"] = max(1, math.ceil(until - request.timestamp))
        event = self.event(request, "extraction_blocked", Action.BLOCK, self._reason(), **data)
        return Decision.block(self._reason(), status, (event,))


def _subsample(rows: np.ndarray | None, limit: int, seed: int) -> np.ndarray | None:
    """At most `limit` reference rows, a seeded random subset when there are more."""
    if rows is None or len(rows) <= limit:
        return rows
    pick = np.random.default_rng(seed).choice(len(rows), size=limit, replace=False)
    return rows[np.sort(pick)]
