"""`redwatch scan` end to end on a model file: exit codes, JSON on stdout, every report
format on disk, the store, and the diff on a second run."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from e2e_helpers import fast_config

pytestmark = pytest.mark.e2e


def test_scan_model_file_writes_every_format_and_diffs(cli, gbm_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = gbm_files
    cfg = fast_config(tmp_path / "redwatch.yaml")
    args = [
        "scan",
        str(model),
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--out",
        "out",
        "--format",
        "json,html,sarif,junit,md",
        "--fail-on",
        "critical",
        "--json",
        "--config",
        str(cfg),
    ]
    first = cli(*args)
    assert first.code in (0, 1), first.stderr
    report = first.json()
    assert report["schema_version"] == "1.0"
    assert report["campaign"]["status"] == "completed"
    assert report["campaign"]["target"] == str(model)  # history is kept per target name
    assert report["findings"], "an unhardened GBM should have findings"
    for f in report["findings"]:
        assert {"probe", "category", "severity", "title", "metrics", "references"} <= set(f)
        assert f["status"] == "new"
    worst = max(f["severity"] for f in report["findings"])
    assert first.code == (1 if "critical" in {f["severity"] for f in report["findings"]} else 0)
    assert worst  # severities are labels
    ran = {p["probe"]: p["status"] for p in report["probes"]}
    assert ran["evasion.pgd"] == "skipped"  # trees have no gradients
    assert ran["evasion.square"] == "ok"

    out = tmp_path / "out"
    for name in ("report.json", "report.html", "report.sarif", "report.xml", "report.md"):
        assert (out / name).stat().st_size > 0, name
    assert (
        json.loads((out / "report.json").read_text())["campaign"]["id"] == report["campaign"]["id"]
    )
    sarif = json.loads((out / "report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"][0]["results"]) == len(report["findings"])
    ET.parse(out / "report.xml")
    html = (out / "report.html").read_text()
    assert "<svg" in html
    evidence = [e["path"] for f in report["findings"] for e in f["evidence"] if e["path"]]
    assert evidence
    assert all((out / p).exists() for p in evidence)

    second = cli(*args)
    again = second.json()
    assert {f["status"] for f in again["findings"]} == {"open"}

    listed = cli("findings", "list", "--json")
    assert listed.code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == len(again["findings"])

    rendered = cli("report", report["campaign"]["id"][:10], "--format", "md", "--out", "re")
    assert rendered.code == 0, rendered.stderr
    assert (tmp_path / "re" / "report.md").read_text().count("evasion.") >= 1


def test_probes_list(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("probes", "list", "--json")
    assert run.code == 0
    rows = {p["name"]: p for p in json.loads(run.stdout)}
    assert "evasion.hopskipjump" in rows
    assert rows["evasion.pgd"]["default"] is True
    assert rows["evasion.art_zoo"]["default"] is False  # opt-in: runs only when named
    table = cli("probes", "list")
    assert "opt-in" in table.stdout


def test_fail_on_low_fails_the_build_and_name_keys_the_history(
    cli, gbm_files, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model, data = gbm_files
    cfg = fast_config(tmp_path / "redwatch.yaml")
    run = cli(
        "scan",
        str(model),
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--probe",
        "evasion.square",
        "--fail-on",
        "low",
        "--config",
        str(cfg),
        "--out",
        "o",
        "--name",
        "cancer-v1",
    )
    assert run.code == 1, run.stderr
    assert "exit 1" in run.stderr
    listed = json.loads(cli("findings", "list", "--target", "cancer-v1", "--json").stdout)
    assert listed
    assert {f["target"] for f in listed} == {"cancer-v1"}
