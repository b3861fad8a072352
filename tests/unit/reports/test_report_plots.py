"""Robustness-curve extraction and the inline SVG plots built from it."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from redwatch.reports.document import Curve, curves_of, document
from redwatch.reports.plots import curve_svg, overview_svg


def _curve(norm: str = "inf", probe: str = "evasion.pgd") -> Curve:
    return Curve(
        fingerprint="0" * 16,
        probe=probe,
        metric="curve",
        norm=norm,
        epsilon=[0.0, 0.05, 0.1],
        accuracy=[0.9, 0.5, 0.1],
        success_rate=[0.0, 0.44, None],
        clean_accuracy=0.9,
        reference_epsilon=0.05,
    )


def test_curves_of_real_findings() -> None:
    from reports_campaign import build_campaign

    findings = document(build_campaign())["findings"]
    curves = curves_of(findings[0])
    assert len(curves) == 1
    c = curves[0]
    assert c.norm_label == "L∞"
    assert c.label == "evasion.pgd L∞"
    assert c.epsilon == [0.0, 0.02, 0.05, 0.1, 0.2]
    assert c.accuracy[-1] == 0.01
    assert c.clean_accuracy == 0.96
    assert c.reference_epsilon == 0.1
    assert curves_of(findings[1])[0].norm_label == "L2"
    assert curves_of(findings[3]) == []  # privacy finding: no curve


def test_curves_sorted_nested_and_malformed_skipped() -> None:
    finding = {
        "fingerprint": "f" * 16,
        "probe": "evasion.noise",
        "metrics": {
            "by_norm": {
                "gaussian": [{"epsilon": 0.2, "accuracy": 0.5}, {"epsilon": 0.1, "accuracy": 0.7}]
            },
            "broken": [{"epsilon": 0.1, "accuracy": None}],
            "table": [{"feature": "age", "importance": 0.3}],
        },
    }
    curves = curves_of(finding)
    assert [c.metric for c in curves] == ["by_norm.gaussian"]
    assert curves[0].epsilon == [0.1, 0.2]
    assert curves[0].accuracy == [0.7, 0.5]
    assert curves[0].success_rate == [None, None]
    assert curves[0].label == "evasion.noise by_norm.gaussian"


def test_curve_svg_is_inline_and_well_formed() -> None:
    svg = curve_svg([_curve()], title="pgd <b>&$x$", id_prefix="f0")
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert "<!DOCTYPE" not in svg
    assert "<metadata" not in svg
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "pgd <b>&$x$" in texts  # kept as text (escaped in the markup), no mathtext
    assert "accuracy" in texts
    assert "attack success rate" in texts
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids
    assert all(i.startswith("f0-") for i in ids)
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', svg)
    assert set(refs) <= set(ids)


def test_svg_is_deterministic() -> None:
    a = curve_svg([_curve()], title="t", id_prefix="x")
    assert a == curve_svg([_curve()], title="t", id_prefix="x")


def test_overview_has_one_line_per_curve() -> None:
    one = overview_svg([_curve()], norm_label="L∞", id_prefix="o0")
    two = overview_svg([_curve(), _curve(probe="evasion.square")], norm_label="L∞", id_prefix="o0")
    assert two.count('id="o0-line2d_') > one.count('id="o0-line2d_')
    assert "evasion.square L∞" in two
    assert "Accuracy under attack (L∞)" in two
