"""Alert: something a rule says a human must see, built from one or more guard events.

Severity is the findings' scale (info < low < medium < high < critical), so alerts and
findings sort and filter the same way.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redwatch.findings import Severity


def _new_id() -> str:
    """A fresh random alert id."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Alert:
    """One alert: what (kind, title, detail), how bad (severity), who (client) and where
    (source), how many events it stands for (count, including duplicates suppressed since
    the last alert of the same source, kind and client) and the first and last of them."""

    severity: Severity
    title: str
    source: str
    kind: str
    client: str
    count: int
    first_event_id: str
    last_event_id: str
    detail: str
    time: float = field(default_factory=time.time)
    id: str = field(default_factory=_new_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one log line per alert)."""
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(),
            "severity": self.severity.label,
            "title": self.title,
            "source": self.source,
            "kind": self.kind,
            "client": self.client,
            "count": self.count,
            "first_event_id": self.first_event_id,
            "last_event_id": self.last_event_id,
            "detail": self.detail,
        }
