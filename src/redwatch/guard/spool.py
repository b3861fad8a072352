"""Spool files: guard events that could not reach the store yet, as JSON lines.

One file per process, role and UTC day, rotated by size. A file is flock'ed for as long as a
process appends to it or replays it, so a replayer never takes a file that is still being
written and two replayers never share one. Replay goes oldest first and deletes a file only
after every event in it is committed; a crash in between means the file is replayed again,
which is harmless because the store skips event ids it already holds. A line that does not
parse (half-written at a crash) is skipped with a warning and kept in `<file>.bad`.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from redwatch.exceptions import DataError
from redwatch.store.events import event_values

log = logging.getLogger("redwatch.guard.events")

SUFFIX = ".jsonl"
BAD_SUFFIX = ".bad"
MAX_FILE_BYTES = 64 * 1024 * 1024
OPEN_ATTEMPTS = 8
# Process-wide, so two recorders of one process (same source, same day) never share a name.
_SEQUENCE = itertools.count()

Push = Callable[[list[dict[str, Any]]], int]


def encode(record: dict[str, Any]) -> str:
    """One spool line: strict, compact JSON (ValueError/TypeError when it cannot be)."""
    return json.dumps(record, allow_nan=False, separators=(",", ":"))


def _slug(source: str) -> str:
    """The source as a short, file-name-safe word."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", source)[:40] or "events"


def _day() -> str:
    """Today's UTC date as YYYYMMDD (spool files rotate at UTC midnight)."""
    return time.strftime("%Y%m%d", time.gmtime())


def _same_file(path: Path, fd: int) -> bool:
    """True when `path` still names the open file `fd` (nobody deleted or replaced it)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on an open file without waiting; False when it is held."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class SpoolWriter:
    """Appends lines to this process's current spool file for one role (`writer`: batches
    from the recorder's thread, fsync'ed; `overflow`: single calls from serving threads,
    flushed to the OS). The file is opened on the first append and rotated by day and size.
    Not thread-safe: each instance has one writing thread or a lock around it."""

    def __init__(
        self, folder: Path, source: str, role: str, *, sync: bool, max_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self.folder = folder
        self.source = source
        self.role = role
        self.sync = sync
        self.max_bytes = max_bytes
        self._handle: BinaryIO | None = None
        self._path: Path | None = None
        self._day = ""
        self._size = 0

    @property
    def path(self) -> Path | None:
        """The file being appended to, None when none is open."""
        return self._path

    def append(self, lines: Sequence[str]) -> None:
        """Append lines (without their newlines); OSError when the folder cannot be written."""
        if not lines:
            return
        handle = self._current()
        data = "".join(f"{line}\n" for line in lines).encode()
        handle.write(data)
        handle.flush()
        if self.sync:
            os.fsync(handle.fileno())
        self._size += len(data)

    def close(self) -> None:
        """Sync, unlock and close the current file (an empty one is removed), if any."""
        handle, path = self._handle, self._path
        self._handle, self._path = None, None
        if handle is None or path is None:
            return
        try:
            handle.flush()
            os.fsync(handle.fileno())
            if self._size == 0:
                path.unlink(missing_ok=True)
        finally:
            handle.close()

    def _current(self) -> BinaryIO:
        """The open file, rotated first when the day changed or it grew past max_bytes."""
        day = _day()
        if self._handle is not None and (day != self._day or self._size >= self.max_bytes):
            self.close()
        if self._handle is None:
            self._handle, self._path = self._open_new(day)
            self._day, self._size = day, 0
        return self._handle

    def _open_new(self, day: str) -> tuple[BinaryIO, Path]:
        """Create and lock a fresh file; retried under the next name when a replayer took
        the new (empty) file between its creation and our lock."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(OPEN_ATTEMPTS):
            name = f"events-{day}-{_slug(self.source)}-{os.getpid()}-{self.role}"
            path = self.folder / f"{name}-{next(_SEQUENCE):05d}{SUFFIX}"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            if _try_lock(fd) and _same_file(path, fd):
                return os.fdopen(fd, "ab"), path
            os.close(fd)
        raise OSError(f"cannot create a spool file in {self.folder}")


@dataclass
class ReplayReport:
    """What a replay did: files emptied, events read, events new to the store, corrupt lines
    set aside, and files skipped because another process holds them."""

    files: int = 0
    events: int = 0
    stored: int = 0
    bad: int = 0
    busy: int = 0

    def add(self, other: ReplayReport) -> None:
        """Accumulate another report into this one."""
        self.files += other.files
        self.events += other.events
        self.stored += other.stored
        self.bad += other.bad
        self.busy += other.busy


def pending_files(folder: Path) -> list[Path]:
    """Spool files in `folder`, oldest first (by modification time, then name)."""
    try:
        candidates = [p for p in folder.iterdir() if p.name.endswith(SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    stamped = []
    for path in candidates:
        try:
            stamped.append((path.stat().st_mtime, path.name, path))
        except FileNotFoundError:
            continue
    return [path for _, _, path in sorted(stamped)]


def replay_folder(
    folder: Path, push: Push, *, batch_size: int = 1000, skip: frozenset[Path] = frozenset()
) -> ReplayReport:
    """Push every spool file of `folder` that nobody holds, oldest first, in batches; each
    file is deleted once all its events are committed. Whatever `push` raises (StoreError
    when the store is down) stops the replay and propagates; the file stays for next time."""
    report = ReplayReport()
    for path in pending_files(folder):
        if path not in skip:
            report.add(replay_file(path, push, batch_size=batch_size))
    return report


def replay_file(path: Path, push: Push, *, batch_size: int = 1000) -> ReplayReport:
    """Push one spool file's events in batches and delete it; corrupt lines go to
    `<file>.bad`. A file held by another process counts as busy and is left alone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return ReplayReport()
    try:
        if not _try_lock(fd):
            return ReplayReport(busy=1)
        if not _same_file(path, fd):
            return ReplayReport()
        report, bad = _push_lines(os.fdopen(os.dup(fd), "rb"), push, batch_size)
        _keep_bad_lines(path, bad)
        path.unlink(missing_ok=True)
        report.files = 1
        return report
    finally:
        os.close(fd)


def _push_lines(handle: BinaryIO, push: Push, batch_size: int) -> tuple[ReplayReport, list[bytes]]:
    """Decode the lines of an open spool file and push them in batches; returns the report
    and the lines that did not decode."""
    report, bad = ReplayReport(), list[bytes]()
    with handle:
        for chunk in _chunks(handle, batch_size, bad):
            report.events += len(chunk)
            report.stored += push(chunk)
    report.bad = len(bad)
    return report, bad


def _chunks(handle: BinaryIO, size: int, bad: list[bytes]) -> Iterator[list[dict[str, Any]]]:
    """Decoded event records in lists of at most `size`; undecodable lines go to `bad`."""
    chunk: list[dict[str, Any]] = []
    for raw in handle:
        if not raw.strip():
            continue
        record = decode(raw)
        if record is None:
            bad.append(raw if raw.endswith(b"\n") else raw + b"\n")
            continue
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _reject_constant(name: str) -> Any:
    """json.loads hook refusing NaN and Infinity (the store takes strict JSON only)."""
    raise ValueError(f"{name} is not strict JSON")


def decode(raw: bytes) -> dict[str, Any] | None:
    """One spool line as an event record, or None when it is not a complete, valid event."""
    try:
        record = json.loads(raw, parse_constant=_reject_constant)
        if not isinstance(record, dict):
            return None
        event_values(record, "replay")
    except (ValueError, DataError):
        return None
    return record


def _keep_bad_lines(path: Path, bad: list[bytes]) -> None:
    """Append corrupt lines to `<file>.bad` (never replayed) and say so once."""
    if not bad:
        return
    target = path.with_name(path.name + BAD_SUFFIX)
    with open(target, "ab") as handle:
        handle.writelines(bad)
        handle.flush()
        os.fsync(handle.fileno())
    log.warning("%d corrupt line(s) in spool file %s kept in %s", len(bad), path.name, target.name)
