"""Robustness-curve plots as inline SVG text (matplotlib, no display, no files), so an
HTML report can embed them and stay a single self-contained file."""

from __future__ import annotations

import io
import re
from typing import Any

from redwatch.reports.document import Curve

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID_USE = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')
_RC: dict[Any, Any] = {"svg.fonttype": "none", "svg.hashsalt": "redwatch", "font.size": 9.0}


def curve_svg(curves: list[Curve], *, title: str, id_prefix: str) -> str:
    """One finding's curves: accuracy (solid) and attack success rate (dashed) against ε,
    with the clean accuracy and the reference ε as dotted guides."""
    with _style():
        return _finish(*_draw_finding(curves, title), id_prefix)


def _draw_finding(curves: list[Curve], title: str) -> tuple[Any, Any]:
    fig, ax = _axes(title, curves[0].norm_label if curves else "")
    for i, curve in enumerate(curves):
        color = f"C{i % 10}"
        suffix = f" {curve.label}" if len(curves) > 1 else ""
        ax.plot(curve.epsilon, curve.accuracy, "o-", color=color, label=_safe(f"accuracy{suffix}"))
        rates = [
            (e, r) for e, r in zip(curve.epsilon, curve.success_rate, strict=True) if r is not None
        ]
        if rates:
            xs, ys = zip(*rates, strict=True)
            ax.plot(
                xs, ys, "s--", color=color, alpha=0.7, label=_safe(f"attack success rate{suffix}")
            )
        if curve.clean_accuracy is not None:
            ax.axhline(curve.clean_accuracy, color=color, linestyle=":", linewidth=1.0)
        if curve.reference_epsilon is not None:
            ax.axvline(curve.reference_epsilon, color="0.4", linestyle=":", linewidth=1.0)
    return fig, ax


def overview_svg(curves: list[Curve], *, norm_label: str, id_prefix: str) -> str:
    """All findings' accuracy curves for one norm on one chart, one line per probe/finding."""
    title = f"Accuracy under attack ({norm_label})" if norm_label else "Accuracy under attack"
    with _style():
        fig, ax = _axes(title, norm_label)
        for i, curve in enumerate(curves):
            ax.plot(
                curve.epsilon, curve.accuracy, "o-", color=f"C{i % 10}", label=_safe(curve.label)
            )
        return _finish(fig, ax, id_prefix)


def _style() -> Any:
    """Deterministic SVG output with text kept as text (no font files embedded)."""
    import matplotlib as mpl

    return mpl.rc_context(_RC)


def _axes(title: str, norm_label: str) -> tuple[Any, Any]:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    FigureCanvasSVG(fig)
    ax = fig.add_subplot()
    ax.set_title(_safe(title))
    ax.set_xlabel(_safe(f"ε ({norm_label} perturbation size)" if norm_label else "ε"))
    ax.set_ylabel("rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _finish(fig: Any, ax: Any, id_prefix: str) -> str:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _inline(buffer.getvalue(), id_prefix)


def _inline(svg: str, id_prefix: str) -> str:
    """Strip the XML prolog and metadata, and prefix every id (and reference to one) so that
    several SVGs can share one HTML page without clashing clip paths."""
    svg = _METADATA.sub("", _PROLOG.sub("", svg, count=1))
    return _ID_USE.sub(lambda m: f"{m.group(1)}{id_prefix}-{m.group(2)}", svg).strip()


def _safe(text: str) -> str:
    """Plain legend text: no mathtext ($), no leading underscore (hidden by matplotlib)."""
    return text.replace("$", r"\$").lstrip("_") or "-"
