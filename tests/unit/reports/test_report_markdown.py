"""Markdown report: summary, findings table, a section per finding, probe runs."""

from __future__ import annotations

import re

from redwatch.reports.markdown import MarkdownReporter, cell, table
from redwatch.results import CampaignResult


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return {p.split("\n", 1)[0]: p for p in parts[1:]}


def _row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


def test_summary_counts(campaign: CampaignResult) -> None:
    summary = _sections(MarkdownReporter().render(campaign))["Summary"]
    for severity, n in campaign.counts().items():
        assert _row(summary, severity) == [severity, str(n)]
    assert _row(summary, "**total**") == ["**total**", "4"]
    assert _row(summary, "fixed since last campaign")[1] == "1"


def test_findings_table_and_sections(campaign: CampaignResult) -> None:
    text = MarkdownReporter().render(campaign)
    findings = _sections(text)["Findings"]
    for finding, status in zip(campaign.findings, ["new", "open", "regressed", "new"], strict=True):
        assert f"(#finding-{finding.fingerprint})" in findings
        assert f'<a id="finding-{finding.fingerprint}"></a>' in findings
        assert f"status **{status}**" in findings
    severities = [line.split("|")[1].strip() for line in findings.splitlines()[4:8]]
    assert severities == ["critical", "high", "medium", "low"]  # worst first
    row = _row(findings, "critical")
    assert len(row) == 4  # the pipe in a title does not split the row
    assert row[3] == "regressed"
    privacy = _row(findings, "low")
    assert privacy[2].startswith("[Membership \\| inference")


def test_finding_details(campaign: CampaignResult) -> None:
    text = MarkdownReporter().render(campaign)
    pgd = text.split(f'<a id="finding-{campaign.findings[0].fingerprint}"></a>')[1]
    pgd = pgd.split('<a id="finding-')[0]
    assert _row(pgd, "clean_accuracy") == ["clean_accuracy", "0.96"]
    assert _row(pgd, "norm") == ["norm", "inf"]
    assert _row(pgd, "epsilon") == ["epsilon", "0.1"]
    assert "`curve`\n\n| epsilon | accuracy | success_rate |" in pgd
    assert _row(pgd, "0.1")[:2] == ["0.1", "0.12"]
    path = campaign.findings[0].evidence[0].path
    assert f"([`{path}`]({path}))" in pgd
    assert "**Reject inputs off the data manifold** (guard_rule): kNN distance check." in pgd
    assert '"threshold":0.31' in pgd
    assert "[AML.T0015 Evade ML Model](https://atlas.mitre.org/techniques/AML.T0015)" in pgd
    assert "OWASP-ML01 Input Manipulation Attack (OWASP ML Top 10)" in pgd


def test_nested_metrics_unknown_refs_and_unsafe_paths(campaign: CampaignResult) -> None:
    text = MarkdownReporter().render(campaign)
    privacy = text.split(f'<a id="finding-{campaign.findings[3].fingerprint}"></a>')[1]
    assert _row(privacy, "per_class.1") == ["per_class.1", "0.62"]
    assert _row(privacy, "tpr_at_1pct_fpr") == ["tpr_at_1pct_fpr", "n/a"]
    assert _row(privacy, "thresholds") == ["thresholds", "[0.1,0.2]"]
    assert "- CUSTOM-42 (other)" in privacy
    assert "](javascript:" not in text
    assert "(`javascript:alert(1)`)" in privacy


def test_probe_runs_and_fixed(campaign: CampaignResult) -> None:
    sections = _sections(MarkdownReporter().render(campaign))
    probes = sections["Probe runs"]
    assert _row(probes, "`evasion.pgd`") == [
        "`evasion.pgd`",
        "ok",
        "12.35",
        "8000",
        "-",
        "samples=64",
    ]
    assert _row(probes, "`evasion.square`")[1:5] == [
        "skipped",
        "0.00",
        "0",
        "needs scores; target exposes labels",
    ]
    assert _row(probes, "`evasion.sensitivity`")[1] == "error"
    fixed = sections["Fixed since the previous campaign"]
    assert _row(fixed, "`0123456789abcdef`")[1:] == [
        "evasion.square",
        "Square attack fools 40% of inputs",
    ]


def test_empty_campaign(empty_campaign: CampaignResult) -> None:
    text = MarkdownReporter().render(empty_campaign)
    assert "No findings." in text
    assert "No probe ran." in text
    assert "Fixed since" not in text


def test_table_helpers() -> None:
    assert cell("a|b\nc") == "a\\|b<br>c"
    assert cell(None) == "n/a"
    assert cell("") == "-"
    assert table(["x"], [[1.23456]]) == "| x |\n|---|\n| 1.235 |"
