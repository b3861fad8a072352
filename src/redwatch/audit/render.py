"""Renderings of the audit document: JSON (the document itself), self-contained HTML
(Jinja2 template `reports/templates/audit.html.j2`, figures inlined) and PDF (WeasyPrint,
imported only when a PDF is asked for)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from redwatch.audit.figures import image_uri, roc_svg
from redwatch.exceptions import ReportError
from redwatch.reports.document import MetricView, split_metrics
from redwatch.reports.html import environment
from redwatch.reports.json_report import dumps

TEMPLATE = "audit.html.j2"
FORMATS: tuple[str, ...] = ("html", "pdf", "json")
FILES = {"json": "audit.json", "html": "audit.html", "pdf": "audit.pdf"}
PLOTTED = ("roc",)  # metrics shown as a figure instead of tables
INLINE_DATA = 300  # evidence data shown inline only when its JSON is this short
PDF_HELP = (
    "PDF output needs WeasyPrint and its system libraries: pip install 'redwatch[audit]' "
    "and, on Debian/Ubuntu, apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
    "libharfbuzz0b libfontconfig1 fonts-dejavu-core"
)


@dataclass(frozen=True)
class EvidenceView:
    """One finding's evidence prepared for the template."""

    data: dict[str, Any]
    metrics: MetricView
    images: list[tuple[str, str]]  # (description, data URI)
    items: list[dict[str, Any]]  # non-image evidence items
    roc: Markup | None


def render_json(audit: dict[str, Any]) -> str:
    """The audit document as indented JSON text."""
    return dumps(audit)


def render_html(audit: dict[str, Any], root: Path) -> str:
    """The audit as one HTML document; evidence arrays are read from under `root` (the
    folder the campaign saved them to)."""
    views = [_evidence(e, root, i) for i, e in enumerate(audit["evidence"])]
    template = environment().get_template(TEMPLATE)
    return template.render(audit=audit, evidence=views, pct=_pct)


def _evidence(entry: dict[str, Any], root: Path, index: int) -> EvidenceView:
    metrics = {k: v for k, v in entry["metrics"].items() if k not in PLOTTED}
    images, items = [], []
    for item in entry["items"]:
        uri = image_uri(root, item)
        if uri is not None:
            images.append((str(item["description"]), uri))
        else:
            items.append({**item, "inline": len(dumps(item.get("data") or {})) <= INLINE_DATA})
    roc = entry["metrics"].get("roc")
    svg = None
    if isinstance(roc, dict):
        svg = roc_svg(roc, title=f"{entry['probe']}: ROC (log scale)", id_prefix=f"roc{index}")
    return EvidenceView(entry, split_metrics(metrics), images, items, Markup(svg) if svg else None)


def _pct(value: Any) -> str:
    """A rate as a percentage ('n/a' when missing)."""
    return "n/a" if not isinstance(value, int | float) else f"{value:.1%}"


def require_pdf() -> None:
    """ReportError (one line naming the extra and the Debian packages) unless WeasyPrint
    and its system libraries load; called before a campaign so that no time is wasted."""
    _weasyprint()


def _weasyprint() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError):
        raise ReportError(PDF_HELP) from None
    return weasyprint


def render_pdf(html: str) -> bytes:
    """PDF bytes of the HTML through WeasyPrint; ReportError naming the extra and the
    Debian packages when WeasyPrint or its system libraries are missing."""
    weasyprint = _weasyprint()
    try:
        pdf = weasyprint.HTML(string=html, base_url=None).write_pdf()
    except OSError as exc:
        raise ReportError(f"{PDF_HELP} ({exc})") from None
    if not isinstance(pdf, bytes):
        raise ReportError("WeasyPrint returned no PDF")
    return pdf


def render_all(audit: dict[str, Any], root: Path, formats: tuple[str, ...]) -> dict[str, bytes]:
    """File name -> content for each requested format (HTML rendered once, also for PDF)."""
    out: dict[str, bytes] = {}
    if "json" in formats:
        out[FILES["json"]] = render_json(audit).encode("utf-8")
    if "html" in formats or "pdf" in formats:
        html = render_html(audit, root)
        if "html" in formats:
            out[FILES["html"]] = html.encode("utf-8")
        if "pdf" in formats:
            out[FILES["pdf"]] = render_pdf(html)
    return out
