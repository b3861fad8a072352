"""Scheduling rules of the always-on service, kept pure: when a target's next campaign is
due (a fixed interval or a cron line), and whether its model changed (the artifact's
SHA-256 differs from the one last seen, or a new version was registered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from croniter import croniter

from redwatch.exceptions import UsageError
from redwatch.integrity.digest import sha256_file

MIN_INTERVAL_S = 10.0
MAX_INTERVAL_S = 366 * 86400.0


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval in seconds or a five-field cron line (UTC), never both."""

    interval_s: float | None = None
    cron: str | None = None

    def check(self) -> Schedule:
        """This schedule when it is valid; UsageError naming the problem otherwise."""
        if (self.interval_s is None) == (self.cron is None):
            raise UsageError("a schedule needs exactly one of interval_s or cron")
        if self.interval_s is not None:
            if not MIN_INTERVAL_S <= self.interval_s <= MAX_INTERVAL_S:
                raise UsageError(
                    f"schedule interval_s must be between {MIN_INTERVAL_S:.0f} s and "
                    f"{MAX_INTERVAL_S:.0f} s, got {self.interval_s:g}"
                )
        elif self.cron is not None and not _valid_cron(self.cron):
            raise UsageError(f"schedule cron {self.cron!r} is not a valid five-field cron line")
        return self

    def next_due(self, after: datetime) -> datetime:
        """The first due time strictly after `after` (timezone-aware, UTC)."""
        after = as_utc(after)
        if self.interval_s is not None:
            return after + timedelta(seconds=self.interval_s)
        if self.cron is None:
            raise UsageError("a schedule needs exactly one of interval_s or cron")
        nxt: datetime = croniter(self.cron, after).get_next(datetime)
        return as_utc(nxt)


def _valid_cron(line: str) -> bool:
    """True for a five-field cron line croniter understands (no seconds field)."""
    return len(line.split()) == 5 and bool(croniter.is_valid(line))


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def is_due(next_run_at: datetime | None, now: datetime) -> bool:
    """True when a schedule's next run time has come."""
    return next_run_at is not None and as_utc(next_run_at) <= as_utc(now)


def model_changed(seen_hash: str | None, current_hash: str) -> bool:
    """True when the artifact differs from the one last seen. A registered version bump
    clears the seen hash, so it counts as a change even when the bytes are the same."""
    return seen_hash != current_hash


class HashCache:
    """SHA-256 of model files, recomputed only when a file's size or mtime changes, so
    that a scheduler tick every few seconds does not re-read large artifacts."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[int, int, str]] = {}

    def sha256(self, path: Path) -> str:
        """The file's digest (OSError when it cannot be read)."""
        stat = path.stat()
        cached = self._seen.get(path)
        if cached is not None and cached[:2] == (stat.st_size, stat.st_mtime_ns):
            return cached[2]
        digest = sha256_file(path)
        self._seen[path] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest
