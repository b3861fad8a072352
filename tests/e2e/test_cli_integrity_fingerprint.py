"""`redwatch integrity fingerprint / check` end to end: a reloaded model matches, a model with
one changed coefficient drifts (exit 1, moved canaries listed), bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A scaled logistic regression, a copy with one coefficient changed by 0.1%, and data."""
    root = tmp_path_factory.mktemp("fp")
    data = load_breast_cancer(as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(data.data, data.target)
    joblib.dump(model, root / "model.joblib")
    model[-1].coef_[0, 7] *= 1.001
    joblib.dump(model, root / "tampered.joblib")
    frame = data.data.copy()
    frame["diagnosis"] = data.target
    frame.to_csv(root / "data.csv", index=False)
    return {
        "model": root / "model.joblib",
        "tampered": root / "tampered.joblib",
        "data": root / "data.csv",
    }


def _fingerprint(cli, files: dict[str, Path], out: str, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        "integrity",
        "fingerprint",
        str(files["model"]),
        "--data",
        str(files["data"]),
        "--label",
        "diagnosis",
        "--out",
        out,
        *extra,
    )


def test_fingerprint_then_check_the_same_model(cli, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    made = _fingerprint(cli, files, "fp.json", "--canaries", "40")
    assert made.code == 0, made.stderr
    assert "20 data + 20 boundary canaries" in made.stdout
    for _ in range(3):
        run = cli("integrity", "check", str(files["model"]), "--fingerprint", "fp.json")
        assert run.code == 0, run.stdout + run.stderr
        assert "match: all 40 canaries" in run.stdout


def test_one_changed_coefficient_drifts(cli, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    assert _fingerprint(cli, files, "fp.json").code == 0
    run = cli("integrity", "check", str(files["tampered"]), "--fingerprint", "fp.json")
    assert run.code == 1, run.stderr
    assert "drift:" in run.stdout
    assert "(boundary)" in run.stdout
    assert "model file's bytes differ" in run.stdout
    as_json = cli(
        "integrity", "check", str(files["tampered"]), "--fingerprint", "fp.json", "--json"
    )
    assert as_json.code == 1
    doc = json.loads(as_json.stdout)
    assert doc["verdict"] == "drift"
    assert doc["moved_by_kind"]["boundary"] > 0
    assert doc["model_file"] == "changed"
    assert all(m["delta"] > m["tolerance"] for m in doc["moved"])


def test_labels_fingerprint_reports_label_flips(cli, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    assert _fingerprint(cli, files, "fp.json", "--outputs", "labels").code == 0
    run = cli("integrity", "check", str(files["tampered"]), "--fingerprint", "fp.json")
    assert run.code == 1
    assert "(boundary): label" in run.stdout


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_model_with_recorded_input_shape(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    x, _ = load_digits(return_X_y=True)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    torch.jit.save(torch.jit.script(model), tmp_path / "net.pt")
    header = ",".join(f"p{i}" for i in range(64))
    rows = "\n".join(",".join(str(v / 16) for v in row) for row in x[:300])
    (tmp_path / "digits.csv").write_text(f"{header}\n{rows}\n")
    made = cli(
        "integrity", "fingerprint", "net.pt", "--data", "digits.csv", "--out", "fp.json",
        "--input-shape", "1,8,8",
    )  # fmt: skip
    assert made.code == 0, made.stderr
    assert json.loads((tmp_path / "fp.json").read_text())["model"]["input_shape"] == [1, 8, 8]
    run = cli("integrity", "check", "net.pt", "--fingerprint", "fp.json")
    assert run.code == 0, run.stdout + run.stderr


def test_usage_errors_exit_2(cli, files: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = cli("integrity", "check", str(files["model"]), "--fingerprint", "nope.json")
    assert missing.code == 2
    assert "fingerprint file not found" in missing.stderr
    (tmp_path / "bad.json").write_text("[1, 2]")
    bad = cli("integrity", "check", str(files["model"]), "--fingerprint", "bad.json")
    assert bad.code == 2
    assert "not a fingerprint" in bad.stderr
    wrong_label = _fingerprint(cli, files, "fp.json", "--label", "nope")
    assert wrong_label.code == 2
    assert "nope" in wrong_label.stderr
    shape = _fingerprint(cli, files, "fp.json", "--input-shape", "a,b")
    assert shape.code == 2
    assert "--input-shape" in shape.stderr
    outputs = _fingerprint(cli, files, "fp.json", "--outputs", "logits")
    assert outputs.code == 2
    assert "outputs must be" in outputs.stderr
