"""`redwatch integrity scan` end to end: verdicts, exit codes, JSON and SARIF output."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.e2e

EVIL = b"cposix\nsystem\n(Vtrue\ntR."  # os.system("true"): harmless, but code execution


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    (folder / "nested").mkdir(parents=True)
    x = np.random.default_rng(0).normal(size=(40, 3))
    joblib.dump(LogisticRegression().fit(x, x[:, 0] > 0), folder / "clf.joblib")
    np.save(folder / "nested" / "w.npy", x)
    return folder


def test_safe_folder_exits_0(cli, models: Path) -> None:
    run = cli("integrity", "scan", str(models))
    assert run.code == 0, run.stderr
    assert "SAFE" in run.stdout
    assert "clf.joblib" in run.stdout


def test_unsafe_file_exits_1_and_names_the_global(cli, models: Path) -> None:
    (models / "nested" / "evil.bin").write_bytes(EVIL)
    run = cli("integrity", "scan", str(models), "--json")
    assert run.code == 1, run.stderr
    doc = run.json()
    assert isinstance(doc, dict)
    files = {f["path"]: f for f in doc["files"]}
    evil = files["nested/evil.bin"]
    assert evil["verdict"] == "unsafe"
    assert evil["severity"] == "critical"
    assert evil["items"][0]["symbol"] == "posix.system"
    assert evil["items"][0]["opcode"] == "GLOBAL"
    assert "OWASP-ML06" in evil["references"]
    assert files["clf.joblib"]["verdict"] == "safe"
    assert doc["summary"]["unsafe"] == 1


def test_sarif_has_one_result_per_offending_item(cli, models: Path, tmp_path: Path) -> None:
    (models / "evil.pkl").write_bytes(EVIL)
    run = cli("integrity", "scan", str(models), "--sarif", str(tmp_path / "out.sarif"))
    assert run.code == 1
    log = json.loads((tmp_path / "out.sarif").read_text())
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert results
    assert all(r["level"] == "error" for r in results)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"evil.pkl"}


def test_strict_fails_on_suspicious(cli, tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "path.pkl"
    path.write_bytes(pickle.dumps(Path("x")))  # pathlib: not on the allowlist
    assert cli("integrity", "scan", str(path)).code == 0
    assert cli("integrity", "scan", "--strict", str(path)).code == 1


def test_missing_path_exits_2(cli, tmp_path: Path) -> None:
    run = cli("integrity", "scan", str(tmp_path / "nope"))
    assert run.code == 2
    assert "no such file" in run.stderr
