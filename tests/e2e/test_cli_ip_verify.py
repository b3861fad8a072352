"""`redwatch ip verify` end to end: a credit XGBoost watermarked by `redwatch ip watermark`
is attributed (exit 0, signed certificate, Markdown report), the clean original is not
(exit 1), and a wrong key, a tampered commitment, a missing file or an unloadable model exit
2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest

from redwatch.demo.models import train_credit_gbm
from redwatch.ip.certificate import check_certificate
from redwatch.ip.keys import public_key_hex
from redwatch.ip.recipe import fit_like

pytestmark = pytest.mark.e2e
KEY = "e2e-verify-owner-secret-0123456789"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The clean model, an independently trained one, training rows, key files, and the
    watermarked model with its commitment (made by the real `redwatch ip watermark`)."""
    import os
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("verify")
    demo = train_credit_gbm(n_estimators=50)
    joblib.dump(demo.model, root / "clean.joblib")
    other = fit_like(demo.model, demo.x_train[::2], demo.y_train[::2], seed=11)
    joblib.dump(other, root / "independent.joblib")
    frame = pd.DataFrame(demo.x_train, columns=list(demo.feature_names))
    frame["default"] = demo.y_train
    frame.to_csv(root / "train.csv", index=False)
    (root / "owner.key").write_text(KEY + "\n", encoding="utf-8")
    (root / "other.key").write_text("another-owner-secret-abcdef0123\n", encoding="utf-8")
    made = subprocess.run(
        [str(Path(sys.executable).with_name("redwatch")), "ip", "watermark", "clean.joblib",
         "--data", "train.csv", "--label", "default", "--key", "owner.key",
         "--out", "marked.joblib", "--references", "3"],
        cwd=root, env={**os.environ, "REDWATCH_HOME": str(root / "home")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    names = ("clean", "independent", "marked")
    paths = {name: root / f"{name}.joblib" for name in names}
    paths.update(commitment=root / "marked.joblib.commitment.json", key=root / "owner.key")
    paths.update(other_key=root / "other.key")
    return paths


def _verify(cli, files: dict[str, Path], suspect: str, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        "ip", "verify", suspect, "--key", str(files["key"]),
        "--commitment", str(files["commitment"]), *extra,
    )  # fmt: skip


def test_watermarked_model_is_shown_with_certificate_and_report(  # type: ignore[no-untyped-def]
    cli, files: dict[str, Path], tmp_path: Path
) -> None:
    run = _verify(cli, files, str(files["marked"]), "--out", "cert.json", "--report", "r.md")
    assert run.code == 0, run.stdout + run.stderr
    assert "ownership shown" in run.stdout
    assert "null rate" in run.stdout
    assert "p-value" in run.stdout
    assert "byte-identical to the committed watermarked model" in run.stdout
    cert = json.loads((tmp_path / "cert.json").read_text(encoding="utf-8"))
    check_certificate(cert, public_key_hex(KEY.encode()))
    assert cert["test"]["p_value"] < 1e-6
    assert cert["evidence"]["suspect_is_committed_file"] is True
    assert cert["suspect"]["sha256"] == cert["evidence"]["commitment"]["model"]["sha256"]
    report = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "Verdict: ownership shown" in report
    assert "reference-3" in report


def test_clean_and_independent_models_exit_1(cli, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    run = _verify(cli, files, str(files["independent"]))
    assert run.code == 1, run.stdout + run.stderr
    assert "not shown" in run.stdout
    as_json = _verify(cli, files, str(files["clean"]), "--json")
    assert as_json.code == 1
    doc = as_json.json()
    assert doc["verdict"] == "not shown"
    assert doc["p_value"] > 0.01
    assert doc["certificate"]["evidence"]["suspect_is_committed_file"] is False


def test_added_reference_counts_in_the_null(cli, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    run = _verify(cli, files, str(files["marked"]), "--reference", str(files["independent"]))
    assert run.code == 0, run.stderr
    assert "3 committed + 1 added" in run.stdout
    leaky = _verify(cli, files, str(files["marked"]), "--reference", str(files["marked"]))
    assert leaky.code == 1, leaky.stdout + leaky.stderr


@pytest.mark.slow  # five CLI runs
def test_bad_input_exits_2_with_one_line(  # type: ignore[no-untyped-def]
    cli, files: dict[str, Path], tmp_path: Path
) -> None:
    doc = json.loads(files["commitment"].read_text(encoding="utf-8"))
    doc["null"]["rate"] = 1e-4
    (tmp_path / "tampered.json").write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "garbage.joblib").write_bytes(b"not a model at all")
    marked = str(files["marked"])
    cases = [
        (cli("ip", "verify", marked, "--key", str(files["other_key"]),
             "--commitment", str(files["commitment"])), "key does not match this commitment"),
        (cli("ip", "verify", marked, "--key", str(files["key"]),
             "--commitment", "tampered.json"), "signature does not verify"),
        (cli("ip", "verify", marked, "--key", str(files["key"]),
             "--commitment", "missing.json"), "commitment not found"),
        (_verify(cli, files, "garbage.joblib"), "garbage.joblib"),
        (_verify(cli, files, marked, "--alpha", "2"), "--alpha"),
    ]  # fmt: skip
    for run, message in cases:
        assert run.code == 2, run.stdout + run.stderr
        assert message in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert not (tmp_path / "cert.json").exists()
