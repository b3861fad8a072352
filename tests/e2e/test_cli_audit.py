"""`redwatch audit` end to end on a demo model: the folder holds audit.json, audit.html and
audit.pdf; the PDF's pages render to PNG (pdftoppm), its text has every section and a
figure measured in the JSON; the HTML opens in headless Chromium; bad input is one line."""

import json
import re
import subprocess
from pathlib import Path

import joblib
import pandas as pd
import pytest
from e2e_helpers import fast_config, require_tool
from pypdf import PdfReader

from redwatch.demo.models import train_credit_gbm, train_digits_logreg

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SECTIONS = (
    "Executive summary",
    "Risk register",
    "Method and scope",
    "Evidence per finding",
    "Controls evidenced",
    "Framework mapping",
)


def _credit(root: Path) -> tuple[Path, Path]:
    """A small credit GBM and 300 held-out rows with the 'student' column as sensitive."""
    demo = train_credit_gbm(seed=0, n_estimators=30, max_depth=3)
    joblib.dump(demo.model, root / "credit.joblib")
    frame = pd.DataFrame(demo.x_test[:300], columns=list(demo.feature_names))
    frame["default"] = demo.y_test[:300]
    frame.to_csv(root / "credit.csv", index=False)
    return root / "credit.joblib", root / "credit.csv"


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_audit_writes_json_html_pdf_that_agree(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = _credit(tmp_path)
    config = fast_config(tmp_path / "redwatch.yaml")
    with config.open("a", encoding="utf-8") as fh:
        fh.write("  privacy.membership: {shadows: 4}\n")
    run = cli(
        "audit", str(model), "--data", str(data), "--label", "default", "--sensitive",
        "student", "--out", "audit", "--format", "html,pdf,json", "--budget-seconds", "20",
        "--config", str(config),
    )  # fmt: skip
    folder = tmp_path / "audit"
    doc = json.loads((folder / "audit.json").read_text(encoding="utf-8"))
    worst = {f["severity"] for f in json.loads((folder / "report.json").read_text())["findings"]}
    assert run.code == (1 if worst & {"high", "critical"} else 0), run.stderr
    assert doc["schema"] == "redwatch.audit/v1"
    assert doc["subject"]["sensitive"] == ["student"]
    assert f"overall risk {doc['summary']['overall_risk']}" in run.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".audit.")]

    pages = tmp_path / "pages"
    pages.mkdir()
    subprocess.run(
        [
            require_tool("pdftoppm", "poppler-utils"),
            "-r",
            "40",
            "-png",
            str(folder / "audit.pdf"),
            str(pages / "p"),
        ],
        check=True,
        timeout=120,
    )
    pngs = sorted(pages.glob("p-*.png"))
    reader = PdfReader(folder / "audit.pdf")
    assert len(pngs) == len(reader.pages) >= 3
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    text = _flat("\n".join(page.extract_text() or "" for page in reader.pages))
    for title in SECTIONS:
        assert _flat(title) in text, title
    figure = doc["register"][0]["figure"]["text"]
    assert _flat(figure) in text, figure
    assert _flat("Regulation (EU) 2024/1689") in text

    chromium = require_tool("chromium", "chromium")
    dom = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom",
            (folder / "audit.html").as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Risk register" in dom.stdout
    assert doc["register"][0]["id"] in dom.stdout


def test_audit_bad_input_is_one_line_and_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = _credit(tmp_path)
    base = ("audit", str(model), "--data", str(data), "--out", "audit")
    cases = [
        ((*base, "--label", "default", "--format", "html,xml"), "unknown audit format"),
        ((*base, "--label", "nope"), "nope"),
        ((*base, "--label", "default", "--sensitive", "gender"), "gender"),
        ((*base, "--label", "default", "--train-recipe", "no-colon"), "train_recipe"),
    ]
    for args, needle in cases:
        run = cli(*args)
        assert run.code == 2, (args, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert needle in run.stderr, run.stderr
    assert not (tmp_path / "audit").exists()


def test_audit_pdf_embeds_model_inversion_images(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo = train_digits_logreg(seed=0)
    joblib.dump(demo.model, tmp_path / "digits.joblib")
    frame = pd.DataFrame(demo.x_test[:200], columns=list(demo.feature_names))
    frame["digit"] = demo.y_test[:200]
    frame.to_csv(tmp_path / "digits.csv", index=False)
    config = fast_config(tmp_path / "redwatch.yaml")
    with config.open("a", encoding="utf-8") as fh:
        fh.write("  privacy.membership: {shadows: 2}\n")
    run = cli(
        "audit", str(tmp_path / "digits.joblib"), "--data", str(tmp_path / "digits.csv"),
        "--label", "digit", "--input-shape", "1,8,8", "--out", "audit", "--format", "pdf,json",
        "--budget-seconds", "10", "--fail-on", "none", "--config", str(config),
    )  # fmt: skip
    assert run.code == 0, run.stderr
    doc = json.loads((tmp_path / "audit" / "audit.json").read_text(encoding="utf-8"))
    inversion = [e for e in doc["evidence"] if e["probe"] == "privacy.model_inversion"]
    assert inversion, doc["method"]["probes_run"]
    assert inversion[0]["items"][0]["kind"] == "image"
    reader = PdfReader(tmp_path / "audit" / "audit.pdf")
    images = [img for page in reader.pages for img in page.images]
    assert images, "the reconstructions are embedded in the PDF"
    text = _flat("\n".join(page.extract_text() or "" for page in reader.pages))
    assert _flat("model-inversion reconstruction per class") in text
