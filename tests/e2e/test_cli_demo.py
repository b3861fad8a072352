"""`redwatch demo` end to end, then `redwatch scan` on the files the demo saved (the README
promises both), and the HTML report opened in headless Chromium."""

import json
import subprocess
from pathlib import Path

import pytest
from e2e_helpers import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CASES = ("demo-credit-gbm", "demo-digits-logreg", "demo-mnist-cnn")


def test_demo_then_scan_its_files_then_open_the_report(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = cli("demo", "--samples", "20", "--out", "demo")
    assert run.code == 0, run.stderr
    for case in CASES:
        assert case in run.stdout
        assert (tmp_path / "demo" / case / "report.html").exists()
    assert "redwatch demo" in run.stdout  # the summary table

    # the planner picks the new attacks by itself: trees for the GBM, universal and patch
    # attacks and APGD for the CNN
    expected = {
        "demo-credit-gbm": {"evasion.tree_exact", "evasion.tree_walk", "evasion.hopskipjump"},
        "demo-digits-logreg": {"evasion.apgd", "evasion.signopt", "evasion.uap"},
        "demo-mnist-cnn": {"evasion.apgd", "evasion.uap", "evasion.patch", "evasion.signopt"},
    }
    for case, probes in expected.items():
        doc = json.loads((tmp_path / "demo" / case / "report.json").read_text(encoding="utf-8"))
        ran = {p["probe"] for p in doc["probes"] if p["status"] in ("ok", "budget")}
        assert probes <= ran, (case, probes - ran)
        # poisoning susceptibility: how much poison it takes is in every campaign report
        runs = {p["probe"]: p for p in doc["probes"]}
        for name in ("poisoning.label_flip", "poisoning.backdoor"):
            assert runs[name]["status"] in ("ok", "budget"), runs[name]
            assert "min_rate_compromised" in runs[name]["metrics"], runs[name]["metrics"]
            assert runs[name]["metrics"]["rates"], runs[name]["metrics"]
        report_md = (tmp_path / "demo" / case / "report.md").read_text(encoding="utf-8")
        assert "poisoning.backdoor" in report_md

    listed = json.loads(cli("findings", "list", "--json").stdout)
    assert {f["target"] for f in listed} <= set(CASES)
    assert len({f["target"] for f in listed}) >= 2

    credit = tmp_path / "demo" / "demo-credit-gbm"
    scan = cli(
        "scan",
        str(credit / "model.joblib"),
        "--data",
        str(credit / "data.csv"),
        "--label",
        "default",
        "--probe",
        "evasion.noise",
        "--fail-on",
        "none",
        "--json",
    )
    assert scan.code == 0, scan.stderr
    assert json.loads(scan.stdout)["campaign"]["config"]["rows"] > 0

    mnist = tmp_path / "demo" / "demo-mnist-cnn"
    cnn = cli(
        "scan",
        str(mnist / "model.pt"),
        "--model-class",
        "redwatch.demo.mnist_net:MnistCNN",
        "--input-shape",
        "1,28,28",
        "--data",
        str(mnist / "data.csv"),
        "--label",
        "digit",
        "--probe",
        "evasion.pgd",
        "--fail-on",
        "none",
        "--json",
    )
    assert cnn.code == 0, cnn.stderr
    doc = json.loads(cnn.stdout)
    assert doc["campaign"]["config"]["clean_accuracy"] > 0.9
    assert doc["findings"], "PGD breaks an unhardened CNN"

    report = mnist / "report.html"
    dom = subprocess.run(
        [
            require_tool("chromium", "chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<svg" in dom.stdout
    assert "evasion.pgd" in dom.stdout
    assert "demo-mnist-cnn" in dom.stdout
