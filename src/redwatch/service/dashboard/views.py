"""Small display helpers of the dashboard's templates (kept out of the routes so that the
templates' formatting can be tested and reused on its own)."""

from __future__ import annotations

from datetime import UTC, datetime


def short_time(value: str | None) -> str:
    """'2026-11-22 19:13:28 UTC' from ISO text; '' for None, the text itself if unreadable."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
