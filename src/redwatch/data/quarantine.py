"""Quarantine split: the flagged rows to one CSV and the rest to `<stem>.clean.csv` beside
it, both with the header and in file order, values copied as text (no float rewriting).
Both files are written through temporary files, so a failure leaves neither half-written."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from redwatch.exceptions import DataError
from redwatch.ip.signed import write_text_atomic


def clean_path(quarantine: Path) -> Path:
    """Where the cleaned dataset goes: the quarantine file's stem + `.clean.csv`."""
    return quarantine.with_name(quarantine.stem + ".clean.csv")


def read_records(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data records as text; blank lines skipped, as the CSV loader does."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            records = [r for r in csv.reader(fh) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path} for the quarantine split: {exc}") from None
    if not records:
        raise DataError(f"{path} is empty")
    return records[0], records[1:]


def split_rows(
    records: list[list[str]], flagged: Iterable[int]
) -> tuple[list[list[str]], list[list[str]]]:
    """(flagged records, clean records), each in file order; DataError on a bad row index."""
    marked = set(flagged)
    bad = [r for r in marked if not 0 <= r < len(records)]
    if bad:
        raise DataError(f"row {min(bad)} is outside the data ({len(records)} rows)")
    quarantined = [rec for i, rec in enumerate(records) if i in marked]
    clean = [rec for i, rec in enumerate(records) if i not in marked]
    return quarantined, clean


def write_quarantine(
    source: Path, flagged: Iterable[int], quarantine: Path, expected_rows: int
) -> tuple[Path, Path]:
    """Write the flagged rows to `quarantine` and the others to clean_path(quarantine)."""
    header, records = read_records(source)
    if len(records) != expected_rows:
        raise DataError(
            f"{source}: {len(records)} CSV records but {expected_rows} data rows were read; "
            "cannot split it exactly"
        )
    quarantined, clean = split_rows(records, flagged)
    cleaned = clean_path(quarantine)
    if source.resolve() in (quarantine.resolve(), cleaned.resolve()):
        raise DataError(f"the quarantine split would overwrite the input {source}")
    write_text_atomic(quarantine, _csv_text(header, quarantined))
    try:
        write_text_atomic(cleaned, _csv_text(header, clean))
    except Exception:
        quarantine.unlink(missing_ok=True)
        raise
    return quarantine, cleaned


def _csv_text(header: list[str], records: list[list[str]]) -> str:
    """CSV text with the header first and Unix line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue()
