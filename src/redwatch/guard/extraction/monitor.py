"""ExtractionMonitor: the per-client and pooled extraction tests over a stream of answered
queries, independent of the guard's stage API (the stage, tests and benchmarks drive it).

For every answered row: scale it, code its predicted class, note whether it lies outside
the reference data, record it in its client's history (LRU over clients, bounded per
client) and, while the client is young, in the pool; then test what changed. A test runs
PRADA's Shapiro-Wilk W first and the out-of-reference binomial test second; the first that
fires becomes a Flag, and that client (or the pool) stays quiet for one window.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redwatch.guard.extraction.history import QueryHistory
from redwatch.guard.extraction.pooled import MAX_NAMED, Pool
from redwatch.guard.extraction.prada import ClientState, observe, prada_statistic
from redwatch.guard.extraction.reference import ReferenceTest
from redwatch.guard.lru import LruMap

MAX_CLASSES = 100_000  # label codes kept; a model never has more classes than this


@dataclass(frozen=True)
class MonitorSettings:
    """What the stage's options fix: the test's size and threshold, and every bound."""

    min_queries: int
    threshold: float
    max_queries_per_client: int
    max_clients: int
    window_s: float
    pool: bool
    max_pool_queries: int
    test_every: int = 1
    prada: bool = True


@dataclass(frozen=True)
class Flag:
    """One extraction suspicion: who (a client, or the pool and its members), which signal,
    the statistic against its threshold, and how many queries the test saw."""

    scope: str
    signal: str
    statistic: float
    threshold: float
    queries: int
    members: tuple[str, ...]
    time: float
    extra: dict[str, Any] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        """The event's JSON-ready data (at most MAX_NAMED clients listed)."""
        return {
            "scope": self.scope,
            "signal": self.signal,
            "statistic": round(float(self.statistic), 6),
            "threshold": round(float(self.threshold), 6),
            "queries": int(self.queries),
            "clients": list(self.members[:MAX_NAMED]),
            "n_clients": len(self.members),
            **self.extra,
        }

    def detail(self) -> str:
        """One line for the event."""
        who = "client" if self.scope == "client" else f"{len(self.members)} pooled clients"
        if self.signal == "prada":
            why = f"query distances not normal (W {self.statistic:.3f} < {self.threshold:.3f})"
        else:
            why = (
                f"{self.extra['outside']} of {self.queries} queries outside the reference data "
                f"(p {self.extra['p_value']:.2g})"
            )
        return f"suspected model extraction by {who}: {why} after {self.queries} queries"


class ExtractionMonitor:
    """Per-client and pooled extraction tests. `scale` divides rows before any distance;
    `reference` (optional) enables the out-of-reference signal. Thread-safe."""

    def __init__(
        self,
        settings: MonitorSettings,
        scale: np.ndarray,
        reference: ReferenceTest | None = None,
    ) -> None:
        self.settings = settings
        self.scale = scale
        self.reference = reference
        self.clients: LruMap[str, ClientState] = LruMap(settings.max_clients)
        self.pool = Pool.create(settings.max_pool_queries, len(scale)) if settings.pool else None
        self.lowest_w = {"client": math.inf, "pooled": math.inf}
        self._codes: dict[Any, int] = {}
        self._lock = threading.Lock()

    @property
    def dims(self) -> int:
        """Number of features."""
        return len(self.scale)

    def memory_bound(self) -> int:
        """Worst-case bytes of all histories: every tracked client full, and the pool."""
        per = QueryHistory.bytes_per_entry(self.dims)
        clients = self.settings.max_clients * self.settings.max_queries_per_client * per
        pool = self.settings.max_pool_queries * (per + 8) if self.settings.pool else 0
        return clients + pool

    def observe(
        self, identity: str, rows: np.ndarray, labels: np.ndarray, now: float
    ) -> list[Flag]:
        """Record one call's answered rows for `identity`; the flags they raised."""
        scaled = np.asarray(rows, dtype=np.float64) / self.scale
        outside = (
            self.reference.outside(scaled)
            if self.reference is not None
            else np.zeros(len(scaled), dtype=bool)
        )
        flags: list[Flag] = []
        with self._lock:
            codes = [self._code(label) for label in np.asarray(labels).reshape(-1).tolist()]
            last = len(scaled) - 1
            for i, (row, code) in enumerate(zip(scaled, codes, strict=True)):
                flags.extend(self._row(identity, row, code, bool(outside[i]), now, i == last))
        return flags

    def _code(self, label: Any) -> int:
        """A small integer per predicted class (labels may be strings or numbers)."""
        code = self._codes.get(label)
        if code is None:
            code = len(self._codes) % MAX_CLASSES
            if len(self._codes) < MAX_CLASSES:
                self._codes[label] = code
        return code

    def _row(
        self, identity: str, row: np.ndarray, code: int, out: bool, now: float, last: bool
    ) -> list[Flag]:
        """One row through the client's history and, while the client is young and not
        flagged, through the pool; a client flagged now, or old enough now for its own
        test, leaves the pool."""
        s = self.settings
        client = self.clients.get(identity)
        pooled = self.pool is not None and self.pool.admits(client, s.min_queries, now, s.window_s)
        if client is None:
            client = ClientState(QueryHistory(s.max_queries_per_client, self.dims))
            self.clients.put(identity, client)
        flags = self._record(client, "client", identity, row, code, out, now, last)
        if self.pool is None or not pooled:
            return flags
        if flags or not client.young(s.min_queries):
            self.pool.forget(identity)  # flagged, or now tested on its own: it leaves
            return flags
        return self._record(self.pool.state, "pooled", identity, row, code, out, now, last)

    def _record(
        self,
        state: ClientState,
        scope: str,
        identity: str,
        row: np.ndarray,
        code: int,
        out: bool,
        now: float,
        last: bool,
    ) -> list[Flag]:
        """Keep the row in one history (expired entries first) and test it when due."""
        state.history.expire(now - self.settings.window_s)
        if not observe(state.history, row, code, now, out, identity if scope == "pooled" else ""):
            return []
        state.observed += 1
        if last or state.observed % self.settings.test_every == 0:
            return self._test(state, scope, (identity,), now)
        return []

    def _test(
        self, state: ClientState, scope: str, members: tuple[str, ...], now: float
    ) -> list[Flag]:
        """PRADA, then out-of-reference, on one history; at most one flag per window."""
        if state.quiet(now, self.settings.window_s):
            return []
        flag = self._prada(state, scope, now) or self._outside(state, scope, now)
        if flag is None:
            return []
        if scope == "pooled":
            members = tuple(state.history.owners())
        state.last_event = now
        return [Flag(flag.scope, flag.signal, flag.statistic, flag.threshold, flag.queries,
                     members, now, flag.extra)]  # fmt: skip

    def _prada(self, state: ClientState, scope: str, now: float) -> Flag | None:
        """PRADA's test: W of the kept distances below the threshold."""
        if not self.settings.prada:
            return None
        result = prada_statistic(state.history, self.settings.min_queries)
        if result is None:
            return None
        w, n = result
        self.lowest_w[scope] = min(self.lowest_w[scope], w)
        if w >= self.settings.threshold:
            return None
        return Flag(scope, "prada", w, self.settings.threshold, n, (), now)

    def _outside(self, state: ClientState, scope: str, now: float) -> Flag | None:
        """The out-of-reference test: too many kept queries outside the reference data."""
        if self.reference is None:
            return None
        outside, total = state.history.out_counts()
        if not self.reference.flags(outside, total):
            return None
        extra = {
            "outside": outside,
            "p_value": self.reference.p_value(outside, total),
            "null_rate": round(self.reference.null_rate, 6),
            "alpha": self.reference.alpha,
        }
        return Flag(scope, "out_of_reference", outside / total, self.reference.null_rate,
                    total, (), now, extra)  # fmt: skip
