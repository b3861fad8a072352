"""Mapping tables of redwatch.frameworks: every probe reference and every finding category
maps somewhere, every row cites its source document and version, old ids still resolve."""

import pytest

from redwatch import frameworks as fw
from redwatch.engine.planner import available_probes
from redwatch.findings import Category

REQUIRED = (
    "NIST-MEASURE-2.7",
    "NIST-MEASURE-2.10",
    "NIST-MEASURE-2.11",
    "EU-AIA-Art9",
    "EU-AIA-Art10",
    "EU-AIA-Art15",
    "GDPR-Art25",
    "GDPR-Art32",
    "GDPR-Art35",
)


def test_every_registered_probe_reference_resolves_to_a_sourced_table() -> None:
    probes = available_probes()
    assert probes
    for name, cls in probes.items():
        assert cls.references, name
        for ref in cls.references:
            source = fw.source_of(ref)
            assert source is not None, (name, ref)
            assert source.document, (name, ref)
            assert source.version, (name, ref)


@pytest.mark.parametrize("category", [c.value for c in Category])
def test_every_category_maps_to_nist_and_eu_law(category: str) -> None:
    rows = fw.rows_for(category)
    frameworks = {fw.framework_of(r.ref) for r in rows}
    assert "NIST AI RMF" in frameworks, category
    assert frameworks & {"EU AI Act", "GDPR"}, category


def test_every_row_cites_the_source_of_its_reference() -> None:
    rows = (*fw.CATEGORY_MAP, *fw.CONTROL_MAP)
    assert len(rows) > 40
    for row in rows:
        framework = fw.framework_of(row.ref)
        assert framework is not None, row
        assert row.source == fw.SOURCES[framework], row
        assert row.source.version, row
        assert row.source.document, row
        assert row.rationale, row
    assert set(fw.SOURCES) == set(fw.TABLES)


def test_controls_map_somewhere_and_name_real_categories() -> None:
    categories = {c.value for c in Category}
    ids = [c.id for c in fw.CONTROLS]
    assert len(ids) == len(set(ids))
    for control in fw.CONTROLS:
        assert set(control.categories) <= categories, control.id
        assert fw.rows_for(control.id), control.id
    covered = {c for control in fw.CONTROLS for c in control.categories}
    assert {"evasion", "privacy", "fairness", "poisoning", "extraction"} <= covered


def test_required_articles_and_subcategories_exist_and_old_ids_still_resolve() -> None:
    for ref in REQUIRED:
        assert fw.is_known(ref), ref
    assert fw.SOURCES["EU AI Act"].document.startswith("Regulation (EU) 2024/1689")
    assert fw.SOURCES["GDPR"].document.startswith("Regulation (EU) 2016/679")
    assert "AI RMF 1.0" in fw.SOURCES["NIST AI RMF"].version
    atlas = fw.resolve("AML.T0015")
    assert atlas is not None
    assert atlas.url == "https://atlas.mitre.org/techniques/AML.T0015"
    assert fw.resolve("GDPR-Art32") == fw.Reference(
        "GDPR-Art32", "GDPR", "Security of processing", None
    )
    assert fw.resolve("nope") is None
    assert fw.source_of("nope") is None
