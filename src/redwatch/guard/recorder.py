"""EventRecorder: the guard's events into the store without ever slowing serving.

The serving thread only appends to a bounded in-memory queue. A writer thread takes batches
(batch_size events or every flush_interval_s) and stores each in one transaction. While the
store is down, batches go to fsync'ed spool files and the store is retried every
retry_interval_s; once it answers, every spool file in the folder (this process's and those
that earlier processes left) is replayed oldest first. When the queue is full the serving
thread appends the call's events to an overflow spool file itself (one buffered write, no
fsync), because losing events is worse than a slower call under overload. Replays are
idempotent by event id, so anything in doubt is spooled rather than dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from redwatch.exceptions import StoreError, first_line
from redwatch.guard.spool import SpoolWriter, encode, replay_folder
from redwatch.guard.stage import GuardEvent
from redwatch.store import Store

log = logging.getLogger("redwatch.guard.events")

DEFAULT_MAX_QUEUED = 65_536
DEFAULT_STORE_TIMEOUT_S = 5.0


@dataclass
class RecorderStats:
    """Counters of a recorder, for tests, benchmarks and /metrics: events committed by the
    writer, spooled by the writer (store down) or by callers (queue full), replayed from
    spool files (new to the store), corrupt spool lines set aside, and events lost (neither
    the store nor the disk would take them)."""

    stored: int = 0
    spooled: int = 0
    overflowed: int = 0
    replayed: int = 0
    bad_lines: int = 0
    lost: int = 0
    store_up: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The counters as a plain mapping."""
        return asdict(self)


def _encoded(
    event: GuardEvent | Mapping[str, Any], source: str
) -> tuple[dict[str, Any], str] | None:
    """An event's record (to_dict() plus the source) and its spool line. `data` that strict
    JSON cannot encode is replaced by its text (a stage bug must not poison a batch); None,
    with a warning, for something that is not an event at all."""
    if isinstance(event, GuardEvent):
        record = event.to_dict()
    elif isinstance(event, Mapping):
        record = dict(event)
    else:
        log.warning("event recorder: ignored a %s that is not an event", type(event).__name__)
        return None
    record["source"] = source
    try:
        return record, encode(record)
    except (TypeError, ValueError) as exc:
        log.warning("event %s: data is not JSON (%s); kept as text", record.get("id"), exc)
        record["data"] = {"unserialisable": repr(record.get("data"))[:2000]}
    try:
        return record, encode(record)
    except (TypeError, ValueError) as exc:
        log.warning("event recorder: ignored an event that is not JSON (%s)", exc)
        return None


def _encode_all(
    events: Iterable[GuardEvent | Mapping[str, Any]], source: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Records and spool lines of the events that are events."""
    pairs = [pair for pair in (_encoded(event, source) for event in events) if pair is not None]
    return [record for record, _ in pairs], [line for _, line in pairs]


class EventRecorder:
    """An EventSink that stores guard events in batches from a background thread, spooling
    to `spool_dir` while the store is down and replaying the spool when it is back.

    `store_url` None keeps everything in the spool (for `redwatch guard replay` later).
    `__call__` never blocks on the store and never raises; `start()` starts the writer,
    `close()` flushes and stops it. Events that are still not in the store at close stay in
    the spool for the next process or `redwatch guard replay`."""

    def __init__(
        self,
        store_url: str | None,
        spool_dir: Path,
        *,
        source: str,
        batch_size: int = 256,
        flush_interval_s: float = 0.5,
        retry_interval_s: float = 5.0,
        max_queued: int = DEFAULT_MAX_QUEUED,
        store_timeout_s: float = DEFAULT_STORE_TIMEOUT_S,
    ) -> None:
        self.store_url = store_url
        self.spool_dir = Path(spool_dir)
        self.source = source
        self.batch_size = max(1, batch_size)
        self.flush_interval_s = flush_interval_s
        self.retry_interval_s = retry_interval_s
        self.max_queued = max_queued
        self.store_timeout_s = store_timeout_s
        self.stats = RecorderStats()
        self._queue: deque[GuardEvent | Mapping[str, Any]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._overflow_lock = threading.Lock()
        self._overflow: SpoolWriter | None = None
        self._spool: SpoolWriter | None = None
        self._store: Store | None = None
        self._inflight: list[dict[str, Any]] = []
        self._next_retry = 0.0
        self._next_replay = 0.0
        self._warned = False

    # -- serving side ----------------------------------------------------------------------

    def __call__(self, events: Sequence[GuardEvent | Mapping[str, Any]]) -> None:
        """Queue a call's events; never blocks on the store, never raises."""
        try:
            if self._closed or len(self._queue) + len(events) > self.max_queued:
                self._spill(events)
                return
            self._queue.extend(events)
            if len(self._queue) >= self.batch_size:
                self._wake.set()
        except Exception as exc:  # a sink must never break serving
            log.error("event recorder: cannot take events: %s", first_line(exc))

    def _spill(self, events: Sequence[GuardEvent | Mapping[str, Any]]) -> None:
        """Queue full (or recorder closed): append the events to the overflow spool file from
        the calling thread, one buffered write, so that nothing is lost."""
        _, lines = _encode_all(events, self.source)
        with self._overflow_lock:
            if self._overflow is None:
                self._overflow = SpoolWriter(self.spool_dir, self.source, "overflow", sync=False)
            try:
                self._overflow.append(lines)
                self.stats.overflowed += len(lines)
                if self._closed:  # nobody will rotate it any more: release it for replay
                    self._overflow.close()
            except OSError as exc:
                self.stats.lost += len(lines)
                log.error("event recorder: %d event(s) lost: %s", len(lines), first_line(exc))

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EventRecorder:
        """Start the writer thread (once); returns the recorder."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run, name=f"redwatch-events-{self.source}", daemon=True
            )
            self._thread.start()
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush the queue (to the store, or to the spool) and stop the writer. When the
        writer is stuck past `timeout_s` (a hanging store), whatever it still holds is
        spooled from here; the store skips duplicates if its batch lands after all."""
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._spill_remaining()
        with self._overflow_lock:
            if self._overflow is not None:
                self._overflow.close()

    def __enter__(self) -> EventRecorder:
        """Start; `with` closes on exit."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        """Close (flush) whatever happened inside the block."""
        self.close()

    @property
    def pending(self) -> int:
        """Events queued in memory, not yet taken by the writer."""
        return len(self._queue)

    def _spill_remaining(self) -> None:
        """Spool, from the closing thread, what the writer did not take (it was never
        started, or it is stuck on a hanging store: then its in-flight batch too)."""
        remaining: list[GuardEvent | Mapping[str, Any]] = list(self._inflight)
        while self._queue:
            try:
                remaining.append(self._queue.popleft())
            except IndexError:
                break
        if remaining:
            self._spill(remaining)

    # -- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        """Writer loop: batches to the store or the spool; retries and replays when due."""
        self._connect()
        while True:
            stopping = self._stop.is_set()
            if not stopping:
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
            try:
                self._drain()
                self._maintain(force=stopping)
            except Exception as exc:  # keep the writer alive whatever happens
                log.error("event recorder: writer error: %s", first_line(exc))
            if stopping:
                break
        self._finish()

    def _drain(self) -> None:
        """Write out everything queued, batch_size events at a time."""
        while self._queue:
            batch: list[GuardEvent | Mapping[str, Any]] = []
            while self._queue and len(batch) < self.batch_size:
                batch.append(self._queue.popleft())
            self._write(*_encode_all(batch, self.source))

    def _write(self, records: list[dict[str, Any]], lines: list[str]) -> None:
        """One batch: the store in one transaction, or the spool (fsync'ed) when it fails."""
        self._inflight = records
        if self._store is not None:
            try:
                self._store.add_events(records, self.source)
                self.stats.stored += len(records)
                self._inflight = []
                return
            except StoreError as exc:
                self._store_down(exc)
            except Exception as exc:  # a bad record: spooled, set aside when replayed
                log.error("event recorder: batch refused: %s", first_line(exc))
        self._to_spool(lines)
        self._inflight = []

    def _to_spool(self, lines: list[str]) -> None:
        """Append a batch to this writer's spool file; counted lost only if the disk fails."""
        if self._spool is None:
            self._spool = SpoolWriter(self.spool_dir, self.source, "writer", sync=True)
        try:
            self._spool.append(lines)
            self.stats.spooled += len(lines)
        except OSError as exc:
            self.stats.lost += len(lines)
            log.error("event recorder: %d event(s) lost: %s", len(lines), first_line(exc))

    def _maintain(self, force: bool = False) -> None:
        """Reconnect when the retry is due (or forced at close); replay the spool when the
        store is up and a replay is due."""
        now = time.monotonic()
        if (
            self._store is None
            and self.store_url is not None
            and (force or now >= self._next_retry)
        ):
            self._connect()
        if self._store is not None and (force or now >= self._next_replay):
            self._replay()

    def _connect(self) -> None:
        """Open the store; on failure retry after retry_interval_s. A fresh connection makes
        every spool file due for replay."""
        if self.store_url is None:
            return
        try:
            self._store = Store.open(self.store_url, timeout_s=self.store_timeout_s)
        except Exception as exc:
            self._store_down(exc)
            return
        self.stats.store_up = True
        self._warned = False
        self._next_replay = 0.0
        log.info("event recorder: store %s is up", self._store.url)

    def _store_down(self, exc: BaseException) -> None:
        """Forget the store connection and schedule the next attempt."""
        if not self._warned:
            log.warning("event recorder: store unavailable, spooling: %s", first_line(exc))
            self._warned = True
        if self._store is not None:
            self._store.close()
        self._store = None
        self.stats.store_up = False
        self._next_retry = time.monotonic() + self.retry_interval_s

    def _replay(self) -> None:
        """Close this process's spool files (so they can be replayed) and push every spool
        file of the folder into the store, oldest first."""
        store = self._store
        assert store is not None
        self._next_replay = time.monotonic() + self.retry_interval_s
        self._rotate()
        try:
            report = replay_folder(
                self.spool_dir,
                lambda rows: store.add_events(rows, self.source),
                batch_size=max(self.batch_size, 1000),
            )
        except StoreError as exc:
            self._store_down(exc)
            return
        except Exception as exc:  # e.g. the spool folder became unreadable
            log.error("event recorder: replay failed: %s", first_line(exc))
            return
        self.stats.replayed += report.stored
        self.stats.bad_lines += report.bad
        if report.files:
            log.info(
                "event recorder: replayed %d event(s) from %d file(s)", report.events, report.files
            )

    def _rotate(self) -> None:
        """Close the writer's and the overflow spool files; the next append opens new ones."""
        if self._spool is not None:
            self._spool.close()
        with self._overflow_lock:
            if self._overflow is not None:
                self._overflow.close()

    def _finish(self) -> None:
        """Last step of the writer: close the spool files and the store."""
        if self._spool is not None:
            self._spool.close()
        if self._store is not None:
            self._store.close()
            self._store = None
