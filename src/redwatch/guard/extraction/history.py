"""QueryHistory: a bounded, time-windowed record of recent queries (one client's, or the
pool's), kept as a ring of preallocated arrays so that memory never exceeds `capacity` rows
and the nearest-neighbour search is one vectorized pass.

Each entry holds the scaled row (float32), the code of its predicted class, its time, the
PRADA distance measured when it arrived (NaN for the first of its class), whether it lay
outside the reference data, and (for the pool) the client that sent it.
"""

from __future__ import annotations

import numpy as np


class QueryHistory:
    """At most `capacity` entries of `dims` features; the oldest goes first, by count
    (`add` on a full ring) or by age (`expire`), and `drop_owner` forgets one client's.
    Arrays grow by doubling up to capacity, so a client that sends ten queries costs ten
    rows, not `capacity`."""

    def __init__(
        self, capacity: int, dims: int, *, owners: bool = False, initial: int = 16
    ) -> None:
        self.capacity = capacity
        self.dims = dims
        self.initial = initial
        self._alloc = 0
        self._head = 0
        self._size = 0
        self._rows = np.zeros((0, dims), dtype=np.float32)
        self._codes = np.zeros(0, dtype=np.int32)
        self._times = np.zeros(0, dtype=np.float64)
        self._dist = np.zeros(0, dtype=np.float64)
        self._out = np.zeros(0, dtype=bool)
        self._valid = np.zeros(0, dtype=bool)
        self._owners: list[str] | None = [] if owners else None

    def __len__(self) -> int:
        """Kept entries (expired, overwritten and dropped ones excluded)."""
        return int(np.count_nonzero(self._valid))

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the owners list aside)."""
        arrays = (self._rows, self._codes, self._times, self._dist, self._out, self._valid)
        return sum(a.nbytes for a in arrays)

    @staticmethod
    def bytes_per_entry(dims: int) -> int:
        """Array bytes one entry costs: the float32 row plus code, time, distance and flags."""
        return 4 * dims + 4 + 8 + 8 + 1 + 1

    def expire(self, horizon: float) -> None:
        """Forget entries older than `horizon` (oldest first; stops at the first newer one)."""
        while self._size:
            oldest = (self._head - self._size) % self._alloc
            if self._times[oldest] >= horizon:
                return
            self._valid[oldest] = False
            self._size -= 1

    def nearest(self, row: np.ndarray, code: int) -> float | None:
        """L2 distance from `row` to the closest kept entry of class `code`; None if none."""
        if not self._size:
            return None
        same = self._valid & (self._codes == code)
        if not same.any():
            return None
        diff = self._rows[same] - row.astype(np.float32)
        return float(np.sqrt(np.min(np.einsum("ij,ij->i", diff, diff, dtype=np.float64))))

    def add(
        self, row: np.ndarray, code: int, time: float, distance: float, out: bool, owner: str = ""
    ) -> None:
        """Append an entry, overwriting the oldest when the ring is full."""
        if self._size == self._alloc and self._alloc < self.capacity:
            self._grow(min(self.capacity, max(self.initial, 2 * self._alloc)))
        slot = self._head
        self._rows[slot] = row
        self._codes[slot] = code
        self._times[slot] = time
        self._dist[slot] = distance
        self._out[slot] = out
        self._valid[slot] = True
        if self._owners is not None:
            self._owners[slot] = owner
        self._head = (slot + 1) % self._alloc
        self._size = min(self._size + 1, self._alloc)

    def _grow(self, alloc: int) -> None:
        """Enlarge the arrays; only happens before the ring has wrapped, so order is kept."""
        extra = alloc - self._alloc
        self._rows = np.vstack([self._rows, np.zeros((extra, self.dims), dtype=np.float32)])
        self._codes = np.concatenate([self._codes, np.zeros(extra, dtype=np.int32)])
        self._times = np.concatenate([self._times, np.zeros(extra)])
        self._dist = np.concatenate([self._dist, np.full(extra, np.nan)])
        self._out = np.concatenate([self._out, np.zeros(extra, dtype=bool)])
        self._valid = np.concatenate([self._valid, np.zeros(extra, dtype=bool)])
        if self._owners is not None:
            self._owners.extend([""] * extra)
        self._head = self._alloc
        self._alloc = alloc

    def distances(self) -> np.ndarray:
        """The PRADA distances of the kept entries (first-of-class entries have none)."""
        d = self._dist[self._valid]
        return d[~np.isnan(d)]

    def distance_count(self) -> int:
        """How many kept entries carry a distance."""
        return int(np.count_nonzero(self._valid & ~np.isnan(self._dist)))

    def out_counts(self) -> tuple[int, int]:
        """(entries outside the reference, kept entries)."""
        return int(np.count_nonzero(self._valid & self._out)), len(self)

    def drop_owner(self, owner: str) -> int:
        """Forget every entry of `owner` (a client whose traffic is accounted for
        elsewhere); how many were dropped. Needs owner tracking."""
        if self._owners is None:
            return 0
        mine = np.array([name == owner for name in self._owners], dtype=bool) & self._valid
        self._valid[mine] = False
        return int(mine.sum())

    def owners(self) -> list[str]:
        """The distinct owners of the kept entries, sorted (empty without owner tracking)."""
        if self._owners is None:
            return []
        return sorted({self._owners[i] for i in np.flatnonzero(self._valid)})
