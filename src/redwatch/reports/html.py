"""Self-contained HTML report for people (engineers, auditors): inline CSS, inline SVG
robustness curves, no scripts, fonts or remote resources; every value auto-escaped."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from redwatch.frameworks import Reference
from redwatch.reports.base import Reporter
from redwatch.reports.document import (
    SEVERITY_ORDER,
    Curve,
    MetricView,
    brief,
    by_severity,
    curves_of,
    document,
    format_value,
    local_href,
    references,
    split_metrics,
)
from redwatch.results import CampaignResult

TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class FindingView:
    """One finding prepared for the template."""

    data: dict[str, Any]
    metrics: MetricView
    refs: list[Reference]
    evidence: list[tuple[dict[str, Any], str | None]]
    plot: Markup | None


@dataclass(frozen=True)
class Overview:
    """The combined accuracy-vs-ε chart for one norm."""

    norm_label: str
    plot: Markup


class HtmlReporter(Reporter):
    """One HTML file that opens offline in any browser; `plots=False` skips matplotlib."""

    name: ClassVar[str] = "html"
    extension: ClassVar[str] = ".html"
    media_type: ClassVar[str] = "text/html"

    def __init__(self, plots: bool = True) -> None:
        self.plots = plots

    def render(self, result: CampaignResult) -> str:
        """The whole report as one HTML document."""
        doc = document(result)
        findings = [self._finding(f, i) for i, f in enumerate(by_severity(doc["findings"]))]
        return (
            environment()
            .get_template(TEMPLATE)
            .render(
                doc=doc,
                campaign=doc["campaign"],
                severities=SEVERITY_ORDER,
                findings=findings,
                overviews=self._overviews(doc["findings"]),
            )
        )

    def _finding(self, finding: dict[str, Any], index: int) -> FindingView:
        curves = curves_of(finding)
        plot = None
        if self.plots and curves:
            from redwatch.reports.plots import curve_svg

            norm = f" ({curves[0].norm_label})" if curves[0].norm_label else ""
            title = f"{finding['probe']}{norm}: accuracy vs ε"
            plot = Markup(curve_svg(curves, title=title, id_prefix=f"f{index}"))
        return FindingView(
            data=finding,
            metrics=split_metrics(finding["metrics"]),
            refs=references(finding["references"]),
            evidence=[(e, local_href(e["path"])) for e in finding["evidence"]],
            plot=plot,
        )

    def _overviews(self, findings: list[dict[str, Any]]) -> list[Overview]:
        """One chart per norm with every finding's accuracy curve (only when several)."""
        by_norm: dict[str, list[Curve]] = {}
        for finding in findings:
            for curve in curves_of(finding):
                by_norm.setdefault(curve.norm_label, []).append(curve)
        if not self.plots or sum(len(c) for c in by_norm.values()) < 2:
            return []
        from redwatch.reports.plots import overview_svg

        return [
            Overview(norm, Markup(overview_svg(curves, norm_label=norm, id_prefix=f"o{i}")))
            for i, (norm, curves) in enumerate(sorted(by_norm.items()))
        ]


@cache
def environment() -> Environment:
    """The Jinja2 environment: package templates, HTML auto-escaping, strict undefined."""
    env = Environment(
        loader=PackageLoader("redwatch.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    env.filters["brief"] = brief
    return env
