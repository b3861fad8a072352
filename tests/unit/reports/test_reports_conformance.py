"""Every registered reporter honours the plugin contract and renders real campaigns."""

from __future__ import annotations

from typing import Any

import pytest

from redwatch import registry, reports
from redwatch.exceptions import UsageError
from redwatch.reports.base import Reporter
from redwatch.results import CampaignResult

PLUGINS = registry.plugins("redwatch.reporters")


def test_builtin_formats_are_registered() -> None:
    assert set(reports.FORMATS) <= set(PLUGINS)
    assert set(reports.FORMATS) <= set(reports.formats())


@pytest.mark.parametrize(("name", "cls"), sorted(PLUGINS.items()))
def test_reporter_declaration(name: str, cls: Any) -> None:
    assert issubclass(cls, Reporter)
    assert cls.name == name
    assert cls.extension.startswith(".")
    assert len(cls.extension) > 1
    assert "/" in cls.media_type
    assert cls.__doc__


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_reporter_renders_empty_and_full(
    name: str, campaign: CampaignResult, empty_campaign: CampaignResult
) -> None:
    empty = reports.render(empty_campaign, name)
    full = reports.render(campaign, name)
    assert isinstance(empty, str)
    assert empty.strip()
    assert len(full) > len(empty)
    for finding in campaign.findings:
        assert finding.fingerprint in full or finding.title in full


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_reporter_is_deterministic(name: str, campaign: CampaignResult) -> None:
    assert reports.render(campaign, name) == reports.render(campaign, name)


def test_unknown_format_is_a_usage_error(campaign: CampaignResult) -> None:
    with pytest.raises(UsageError, match="unknown reporter 'pdfx'"):
        reports.render(campaign, "pdfx")


def test_reporter_options_are_checked(campaign: CampaignResult) -> None:
    from redwatch.exceptions import ReportError

    assert reports.reporter("junit", fail_on="low").render(campaign)
    with pytest.raises(ReportError, match="does not accept"):
        reports.reporter("md", colour=True)
