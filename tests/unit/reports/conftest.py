"""Fixtures for the report tests; the data lives in reports_campaign.py (importable by
its unique name from test modules that need it outside a fixture)."""

from __future__ import annotations

import pytest
from reports_campaign import build_campaign, build_empty

from redwatch.results import CampaignResult


@pytest.fixture
def campaign() -> CampaignResult:
    return build_campaign()


@pytest.fixture
def empty_campaign() -> CampaignResult:
    return build_empty()
