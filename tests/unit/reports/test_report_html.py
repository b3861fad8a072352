"""HTML report: parses, is self-contained (no remote scripts, styles or fonts), escapes
values, and embeds a robustness-curve SVG per evasion finding."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from redwatch.reports.html import HtmlReporter
from redwatch.results import CampaignResult


class _Collector(HTMLParser):
    """Records every start tag with its attributes and all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def html() -> str:
    from reports_campaign import build_campaign

    return HtmlReporter().render(build_campaign())


def test_parses_and_is_self_contained(html: str) -> None:
    doc = _parse(html)
    names = [t for t, _ in doc.tags]
    assert names[0] == "html"
    assert "style" in names
    assert "script" not in names
    assert "iframe" not in names
    for tag, attrs in doc.tags:
        for attr in ("src", "srcset"):
            assert attr not in attrs or not str(attrs[attr]).startswith(("http:", "https:", "//"))
        if tag == "link":
            assert not str(attrs.get("href", "")).startswith(("http", "//"))
    assert "@import" not in html
    assert "url(http" not in html


def test_svg_plots(html: str) -> None:
    doc = _parse(html)
    svgs = [a for t, a in doc.tags if t == "svg"]
    # three evasion findings with curves + overview charts for L2 and L∞
    assert len(svgs) == 5
    ids = [a["id"] for _, a in doc.tags if "id" in a and a["id"] is not None]
    assert len(ids) == len(set(ids)), "ids must be unique across inline SVGs"
    assert "Accuracy under attack (L∞)" in html
    assert "Accuracy under attack (L2)" in html
    assert "<?xml" not in html


def test_findings_and_badges(html: str, campaign: CampaignResult) -> None:
    for finding in campaign.findings:
        assert f'id="finding-{finding.fingerprint}"' in html
    for status in ("new", "open", "regressed", "fixed"):
        assert f'class="badge st-{status}"' in html
    for severity in ("critical", "high", "medium", "low"):
        assert f'class="badge sev-{severity}"' in html
    assert "0123456789abcdef" in html
    assert "Square attack fools 40% of inputs" in html


def test_references_mitigations_evidence(html: str, campaign: CampaignResult) -> None:
    doc = _parse(html)
    hrefs = [a.get("href") for t, a in doc.tags if t == "a"]
    assert "https://atlas.mitre.org/techniques/AML.T0015" in hrefs
    assert campaign.findings[0].evidence[0].path in hrefs
    assert not any(str(h).lower().startswith("javascript:") for h in hrefs)
    text = " ".join(doc.text)
    assert "Evade ML Model" in text
    assert "Reject inputs off the data manifold" in text
    assert "Adversarial training at ε=0.1" in text


def test_values_are_escaped(html: str) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_metrics_and_probe_runs(html: str) -> None:
    text = re.sub(r"\s+", " ", " ".join(_parse(html).text))
    assert "clean_accuracy 0.96" in text
    assert "per_class.0 0.6" in text
    assert "evasion.square skipped 0.00 0 needs scores; target exposes labels" in text
    assert "evasion.sensitivity error" in text
    assert "samples=64" in text


def test_without_plots_and_empty(campaign: CampaignResult, empty_campaign: CampaignResult) -> None:
    assert "<svg" not in HtmlReporter(plots=False).render(campaign)
    empty = HtmlReporter().render(empty_campaign)
    assert "No findings." in empty
    assert "<svg" not in empty
    assert _parse(empty).tags[0][0] == "html"
