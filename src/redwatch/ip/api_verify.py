"""API-watermark verification: prove that a suspect model was trained on our API's answers.

The guard's `watermark` stage records every answer it changed (`redwatch.watermark/v1`
records, the `data` of events of kind `watermark`). Here those records are read back from a
log, kept only when they verify under the owner's key, and the suspect is asked about the
recorded rows: a model that learnt from the API repeats the served (wrong) labels far more
often than a model that never saw them. The count becomes a signed ownership certificate.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from redwatch.exceptions import DataError, RedwatchError, TargetError
from redwatch.guard.watermark_record import (
    WatermarkRecord,
    agreement,
    is_selected,
    key_fingerprint,
    plain_label,
    record_rows,
    row_digest,
)
from redwatch.ip.certificate import build_certificate
from redwatch.ip.signed import sha256_hex
from redwatch.ip.stats import (
    NullEstimate,
    OwnershipTest,
    ReferenceAgreement,
    estimate_null,
    fixed_null,
    ownership_test,
)
from redwatch.targets.base import Target

BAD_LINE = "bad_line"
FORGED = "forged"
OTHER_KEY = "other_key"
NOT_SELECTED = "not_selected"
SHOWN_CLIENTS = 20
CHANCE_METHOD = "chance-1/K"


@dataclass(frozen=True)
class LogItems:
    """What a log held: the decoded JSON items (records or events), how many lines could not
    be decoded, and where the log came from (a path, or `store`)."""

    items: list[Any]
    bad_lines: int
    source: str


@dataclass(frozen=True)
class RecordSet:
    """The records of a log that verify under the key (one per digest) and the count of
    everything left out, by reason, so that a certificate says what it did not use."""

    records: tuple[WatermarkRecord, ...]
    rejected: dict[str, int]
    duplicates: int
    other_events: int
    source: str
    rate: float
    key_ids: tuple[str, ...] = field(default=())


def parse_log(text: str, source: str) -> LogItems:
    """Decode a log: one JSON document (an array such as `redwatch guard events --json`
    prints, or a single object) or JSON lines; undecodable lines are counted, not fatal."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, list):
        return LogItems(whole, 0, source)
    if isinstance(whole, dict):
        return LogItems([whole], 0, source)
    items: list[Any] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except ValueError:
            bad += 1
    return LogItems(items, bad, source)


def _record_of(item: Any) -> Any | None:
    """The record inside an item: an event's `data` when the event is a watermark event,
    the item itself when it looks like a bare record; None for other events."""
    if isinstance(item, dict) and "kind" in item and "data" in item:
        return item["data"] if item["kind"] == "watermark" else None
    return item


def _reason(record: WatermarkRecord, key: bytes, rate: float) -> str | None:
    """Why a record does not verify under `key` at `rate` (None when it does). A record
    whose digest is not ours is `other_key` or `forged` (decided later, by its key id)."""
    if record.verify(key, rate):
        return None
    digest = row_digest(key, np.asarray(record.row, dtype=np.float64))
    if digest.hex() != record.digest:
        return OTHER_KEY
    return FORGED if is_selected(digest, rate) else NOT_SELECTED


def select_records(log: LogItems, key: bytes, rate: float) -> RecordSet:
    """Keep the records that verify under `key` at `rate`, one per digest; count the rest by
    reason (a digest mismatch under one of our key ids is `forged`, else `other_key`).
    DataError (one line) when nothing usable is left."""
    rejected: Counter[str] = Counter({BAD_LINE: log.bad_lines} if log.bad_lines else {})
    kept: dict[str, WatermarkRecord] = {}
    mismatched: list[WatermarkRecord] = []
    duplicates = other = 0
    for item in log.items:
        raw = _record_of(item)
        if raw is None:
            other += 1
            continue
        try:
            record = WatermarkRecord.from_dict(raw)
        except DataError:
            rejected[BAD_LINE] += 1
            continue
        reason = _reason(record, key, rate)
        if reason == OTHER_KEY:
            mismatched.append(record)
        elif reason is not None:
            rejected[reason] += 1
        elif record.digest in kept:
            duplicates += 1
        else:
            kept[record.digest] = record
    ours = {key_fingerprint(key)} | {r.key_id for r in kept.values()}
    for record in mismatched:
        rejected[FORGED if record.key_id in ours else OTHER_KEY] += 1
    found = RecordSet(
        tuple(kept.values()), dict(sorted(rejected.items())), duplicates, other, log.source, rate,
        tuple(sorted({r.key_id for r in kept.values()})),
    )  # fmt: skip
    if not found.records:
        raise DataError(
            f"{log.source}: no watermark record verifies under this key ({_why(found)})"
        )
    return found


def _why(found: RecordSet) -> str:
    """A short account of what a log held, for the one-line error."""
    parts = [f"{n} {reason.replace('_', ' ')}" for reason, n in found.rejected.items()]
    parts += [f"{found.other_events} other event(s)"] if found.other_events else []
    return ", ".join(parts) or "it holds no records"


def predicted_labels(
    target: Target, rows: np.ndarray, records: Sequence[WatermarkRecord]
) -> list[Any]:
    """The suspect's labels for the rows, as label values comparable with the records' (the
    target's classes when it knows them, else the records' class list by position)."""
    try:
        index = np.asarray(target.predict(rows)).reshape(-1)
    except RedwatchError:
        raise
    except Exception as exc:  # a foreign model's own error: one line, no traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TargetError(f"{target.name}: cannot answer the recorded rows ({first})") from None
    names = target.classes if target.classes is not None else records[0].classes
    return [plain_label(names[i]) if 0 <= i < len(names) else int(i) for i in index.tolist()]


def served_agreement(target: Target, found: RecordSet) -> tuple[int, int]:
    """How many of the recorded rows the target labels with the served (watermark) label,
    and with the model's original label."""
    records = list(found.records)
    score = agreement(predicted_labels(target, record_rows(records), records), records)
    return score.watermark, score.original


def null_estimate(
    references: Iterable[Target], found: RecordSet, confidence: float = 0.99
) -> NullEstimate:
    """The null agreement rate: from reference models that never saw the API's answers when
    any are given, else the 1/K chance level of the records' class count."""
    measured = [
        ReferenceAgreement(ref.name, served_agreement(ref, found)[0], len(found.records))
        for ref in references
    ]
    if measured:
        return estimate_null(measured, confidence)
    classes = max(len(r.classes) for r in found.records)
    return fixed_null(1.0 / classes, CHANCE_METHOD)


def _iso(seconds: float) -> str:
    """A record timestamp as UTC ISO 8601."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def evidence(found: RecordSet, original: int, null: NullEstimate) -> dict[str, Any]:
    """The certificate's method-specific evidence: which records (a digest over them), which
    key, which clients, when, and what was rejected."""
    clients = sorted({r.client for r in found.records})
    times = [r.timestamp for r in found.records]
    digests = "\n".join(sorted(r.digest for r in found.records)).encode("ascii")
    doc: dict[str, Any] = {
        "log": found.source,
        "key_id": ", ".join(found.key_ids),
        "rate": found.rate,
        "records_used": len(found.records),
        "records_sha256": sha256_hex(digests),
        "records_rejected": dict(found.rejected),
        "duplicates": found.duplicates,
        "other_events": found.other_events,
        "clients_seen": len(clients),
        "clients": clients[:SHOWN_CLIENTS],
        "time_range": {"first": _iso(min(times)), "last": _iso(max(times))},
        "classes": max(len(r.classes) for r in found.records),
        "suspect_gave_original_label": original,
    }
    if null.method == CHANCE_METHOD:
        doc["null_note"] = (
            "no reference models were given: the null rate is the 1/K chance level, not a "
            "measured rate; pass --reference models to measure it"
        )
    return doc


@dataclass(frozen=True)
class ApiVerification:
    """The result of one verification: the test and the signed certificate."""

    test: OwnershipTest
    certificate: dict[str, Any]


def verify_api(
    target: Target,
    found: RecordSet,
    key: bytes,
    *,
    suspect: dict[str, Any],
    references: Sequence[Target] = (),
    alpha: float = 1e-6,
) -> ApiVerification:
    """Test the suspect on the verified records against the null rate and sign the result."""
    null = null_estimate(references, found)
    agreed, original = served_agreement(target, found)
    test = ownership_test(agreed, len(found.records), null, alpha)
    cert = build_certificate(
        method="api-watermark",
        suspect=suspect,
        evidence=evidence(found, original, null),
        test=test,
        key=key,
    )
    return ApiVerification(test, cert)
