"""Reports: one reporter plugin per format (JSON, SARIF, JUnit XML, Markdown, HTML), found
through the `redwatch.reporters` entry points like any third-party reporter."""

from __future__ import annotations

from typing import Any

from redwatch import registry
from redwatch.exceptions import ReportError
from redwatch.reports.base import Reporter
from redwatch.results import CampaignResult

GROUP = "redwatch.reporters"
FORMATS: tuple[str, ...] = ("json", "sarif", "junit", "md", "html")


def formats() -> list[str]:
    """Every registered format name, built-in and third-party."""
    return list(registry.plugins(GROUP))


def reporter(fmt: str, **options: Any) -> Reporter:
    """An instance of the reporter for `fmt` (UsageError for unknown names); options go to
    its constructor (e.g. `fail_on` for junit)."""
    cls = registry.get(GROUP, fmt)
    try:
        instance = cls(**options)
    except TypeError as exc:
        raise ReportError(f"reporter {fmt!r} does not accept these options: {exc}") from None
    if not isinstance(instance, Reporter):
        raise ReportError(f"reporter {fmt!r} is not a redwatch Reporter")
    return instance


def render(result: CampaignResult, fmt: str, **options: Any) -> str:
    """Render a campaign in one format and return the document text."""
    return reporter(fmt, **options).render(result)


__all__ = ["FORMATS", "Reporter", "formats", "render", "reporter"]
