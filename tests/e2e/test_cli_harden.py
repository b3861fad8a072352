"""`redwatch harden` through the installed console script: the command that a scan finding
names runs as written, writes the hardened model with its record, and bad input exits 2
with one line and nothing left in --out."""

import json
import shlex
from pathlib import Path

import joblib
import pytest
from e2e_helpers import fast_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_scan_finding_names_a_harden_command_that_works(cli, gbm_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = gbm_files
    fast_config(tmp_path / "redwatch.yaml")  # picked up from the cwd by scan and harden
    scan = cli(
        "scan",
        str(model),
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--json",
        "--fail-on",
        "none",
        "--format",
        "json",
    )
    assert scan.code == 0, scan.stderr
    commands = {
        m["params"]["command"]
        for f in scan.json()["findings"]  # type: ignore[attr-defined]
        if f["category"] == "evasion"
        for m in f["mitigations"]
        if "command" in m["params"]
    }
    assert commands == {
        f"redwatch harden {model} --data {data} --label diagnosis --out model-hardened"
    }
    argv = shlex.split(commands.pop())
    assert argv[0] == "redwatch"
    run = cli(*argv[1:])
    assert run.code in (0, 1), run.stderr
    out = tmp_path / "model-hardened"
    record = json.loads((out / "harden.json").read_text())
    assert run.code == (0 if record["comparison"]["improved"] else 1)
    assert "before / after" in run.stdout
    assert "clean accuracy" in run.stdout
    assert record["method"]["name"] == "augment"
    assert record["method"]["adversarial_rows_added"] > 0
    hardened = joblib.load(out / "model.joblib")
    assert type(hardened).__name__ == "XGBClassifier"
    assert (out / "report.md").read_text().startswith("# Hardening report")
    # the re-scan reports are ordinary campaign reports
    before = json.loads((out / "scan-before" / "report.json").read_text())
    after = json.loads((out / "scan-after" / "report.json").read_text())
    assert before["campaign"]["id"] == record["campaigns"]["before"]
    assert after["campaign"]["target"].endswith("-after")
    # running it again refuses to overwrite the folder
    again = cli(*argv[1:])
    assert again.code == 2
    assert "not empty" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "labelled data"),
        (["--label", "nope"], "label column 'nope'"),
        (["--label", "diagnosis", "--method", "trades"], "PyTorch"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(  # type: ignore[no-untyped-def]
    cli, gbm_files, tmp_path: Path, extra: list[str], message: str
) -> None:
    model, data = gbm_files
    run = cli("harden", str(model), "--data", str(data), "--out", "hardened", *extra)
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert message in lines[0]
    assert not (tmp_path / "hardened").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hardened")]


def test_missing_model_file_exits_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n", encoding="utf-8")
    run = cli("harden", "missing.joblib", "--data", "d.csv", "--label", "y", "--out", "o")
    assert run.code == 2
    assert "model file not found" in run.stderr
    assert not (tmp_path / "o").exists()
