"""Scheduling rules: intervals and cron lines, their validation, and model-change detection
by artifact hash (cached by size and mtime)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from redwatch.engine.scheduler import (
    HashCache,
    Schedule,
    as_utc,
    is_due,
    model_changed,
)
from redwatch.exceptions import UsageError
from redwatch.integrity.digest import sha256_file

NOON = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


def test_interval_schedule_adds_its_seconds() -> None:
    assert Schedule(interval_s=90).check().next_due(NOON) == NOON + timedelta(seconds=90)


def test_cron_schedule_gives_the_next_matching_minute_in_utc() -> None:
    quarter = Schedule(cron="*/15 * * * *").check()
    assert quarter.next_due(NOON) == datetime(2026, 3, 2, 12, 15, tzinfo=UTC)
    paris = NOON.astimezone(timezone(timedelta(hours=1)))
    assert quarter.next_due(paris) == datetime(2026, 3, 2, 12, 15, tzinfo=UTC)
    nightly = Schedule(cron="0 3 * * *").next_due(NOON)
    assert nightly == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (Schedule(), "exactly one"),
        (Schedule(interval_s=60, cron="* * * * *"), "exactly one"),
        (Schedule(interval_s=9.5), "between 10 s"),
        (Schedule(interval_s=10**9), "between 10 s"),
        (Schedule(cron="every monday"), "not a valid"),
        (Schedule(cron="0 0 * * * *"), "not a valid"),
        (Schedule(cron="61 * * * *"), "not a valid"),
    ],
)
def test_bad_schedules_are_one_line_usage_errors(schedule: Schedule, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        schedule.check()
    assert "\n" not in str(caught.value)


def test_due_times_compare_in_utc() -> None:
    naive = datetime(2026, 3, 2, 12, 0, 0)
    assert as_utc(naive) == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert is_due(naive, NOON)
    assert is_due(NOON, NOON)
    assert not is_due(NOON + timedelta(seconds=1), NOON)
    assert not is_due(None, NOON)


def test_model_change_follows_the_artifact_hash(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights-v1" * 200_000)
    first = sha256_file(model)
    assert first == hashlib.sha256(model.read_bytes()).hexdigest()
    assert not model_changed(first, first)
    assert model_changed(None, first)  # a version bump clears the seen hash
    cache = HashCache()
    assert cache.sha256(model) == first
    model.write_bytes(b"weights-v2" * 200_000)
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = cache.sha256(model)
    assert second != first
    assert model_changed(first, second)
    with pytest.raises(FileNotFoundError):
        cache.sha256(tmp_path / "gone.bin")
