"""Guard events as the store takes and returns them: checking one event mapping (the
GuardEvent.to_dict() form), clipping text to the column widths, and the row as a dict.

The store sits below the guard in the import order, so it sees events only as mappings or
as objects with a `to_dict()` method.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from redwatch.exceptions import DataError
from redwatch.store.models import EventRow, utcnow
from redwatch.store.views import iso

REQUIRED = ("id", "timestamp", "stage", "kind", "action", "client", "detail", "data")
MAX_ID_CHARS = 64
# Column widths (models.EventRow); longer text is cut rather than refused, so that one odd
# client name can never make a whole batch, and the spool behind it, unstorable.
WIDTHS = {"source": 255, "stage": 64, "kind": 64, "action": 16, "client": 255}


class SupportsToDict(Protocol):
    """An event object (e.g. redwatch.guard.GuardEvent) that can render its mapping form."""

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready mapping."""


EventLike = Mapping[str, Any] | SupportsToDict


def event_values(event: EventLike, source: str) -> dict[str, Any]:
    """Column values of one event; `source` applies unless the mapping names its own.
    DataError naming the event and the problem when it is malformed."""
    raw: Any = event
    if not isinstance(raw, Mapping):  # checked first: a Protocol isinstance is slow
        to_dict = getattr(event, "to_dict", None)
        raw = to_dict() if callable(to_dict) else event
    if not isinstance(raw, Mapping):
        raise DataError(f"an event must be a mapping, got {type(raw).__name__}")
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_CHARS:
        raise DataError(f"event id must be text of 1 to {MAX_ID_CHARS} characters: {event_id!r}")
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise DataError(f"event {event_id} lacks {', '.join(missing)}")
    text = {**raw, "source": raw.get("source") or source}
    values: dict[str, Any] = {key: _clip(str(text[key]), width) for key, width in WIDTHS.items()}
    values.update(
        id=event_id,
        time=_event_time(event_id, raw["timestamp"]),
        detail=str(raw["detail"]),
        data=_event_data(event_id, raw["data"]),
        recorded_at=utcnow(),
    )
    return values


def event_document(row: EventRow) -> dict[str, Any]:
    """A stored event: the GuardEvent.to_dict() keys plus source, ISO time and recorded_at."""
    return {
        "id": row.id,
        "timestamp": row.time.timestamp(),
        "time": iso(row.time),
        "source": row.source,
        "stage": row.stage,
        "kind": row.kind,
        "action": row.action,
        "client": row.client,
        "detail": row.detail,
        "data": row.data,
        "recorded_at": iso(row.recorded_at),
    }


def _clip(text: str, width: int) -> str:
    """Text cut to a column width."""
    return text if len(text) <= width else text[:width]


def _event_time(event_id: str, value: Any) -> datetime:
    """Epoch seconds (or ISO text) as a UTC timestamp; DataError when it is not a time."""
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise ValueError(value)
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise DataError(f"event {event_id}: timestamp {value!r} is not a time") from None


def _event_data(event_id: str, value: Any) -> dict[str, Any]:
    """The event's data, refused unless it is a mapping that strict JSON can encode."""
    if not isinstance(value, dict):
        raise DataError(f"event {event_id}: data must be a mapping, got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DataError(f"event {event_id}: data is not strict JSON ({exc})") from None
    return value
