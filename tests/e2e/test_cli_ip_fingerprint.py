"""`redwatch ip fingerprint / compare` end to end: a signed fingerprint of the digits model
calls a copy and a pruned copy derived (exit 0) and an independently trained model not
(exit 1); the on-the-fly form works; bad input and a tampered file exit 2."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from redwatch.demo.models import train_digits_logreg
from redwatch.ip.fingerprint import FingerprintSettings, build_ip_fingerprint, save_ip_fingerprint
from redwatch.ip.keys import read_key
from redwatch.targets.detect import from_object

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Owner, its copy with the 10% smallest weights zeroed, an independent model, data, key."""
    root = tmp_path_factory.mktemp("ipfp")
    owner = train_digits_logreg(0)
    joblib.dump(owner.model, root / "owner.joblib")
    pruned = copy.deepcopy(owner.model)
    small = np.abs(pruned.coef_) < np.quantile(np.abs(pruned.coef_), 0.1)
    pruned.coef_[small] = 0.0
    joblib.dump(pruned, root / "pruned.joblib")
    joblib.dump(train_digits_logreg(7).model, root / "independent.joblib")
    frame = pd.DataFrame(owner.x_train, columns=list(owner.feature_names))
    frame["digit"] = owner.y_train
    frame.to_csv(root / "train.csv", index=False)
    (root / "key.txt").write_text("e2e-fingerprint-secret-0123456789\n", encoding="utf-8")
    small = FingerprintSettings(points=20, references=4)
    fp = build_ip_fingerprint(from_object(owner.model), owner.x_train, owner.y_train, small)
    save_ip_fingerprint(fp, root / "small_fp.json", read_key(str(root / "key.txt")))
    return {p.stem: p for p in root.iterdir()} | {"data": root / "train.csv"}


@pytest.fixture
def fp_json(cli, files: dict[str, Path]) -> str:  # type: ignore[no-untyped-def]
    """A signed fingerprint written by the CLI into the test's folder."""
    made = cli(
        "ip", "fingerprint", str(files["owner"]), "--data", str(files["data"]),
        "--label", "digit", "--out", "fp.json", "--key", str(files["key"]),
        "--points", "80", "--references", "6",
    )  # fmt: skip
    assert made.code == 0, made.stderr
    assert "80 points" in made.stdout
    assert "signed by" in made.stdout
    assert "scores recorded" in made.stdout
    return "fp.json"


@pytest.mark.slow
def test_copies_are_derived_and_an_independent_model_is_not(  # type: ignore[no-untyped-def]
    cli, files: dict[str, Path], fp_json: str
) -> None:
    key = str(files["key"])
    for name in ("owner", "pruned"):
        run = cli("ip", "compare", str(files[name]), "--fingerprint", fp_json, "--key", key)
        assert run.code == 0, run.stdout + run.stderr
        assert "derived: matching rate" in run.stdout
        assert "| scores: share within the owner radius" in run.stdout
    run = cli("ip", "compare", str(files["independent"]), "--fingerprint", fp_json, "--json")
    assert run.code == 1, run.stderr
    doc = json.loads(run.stdout)
    assert doc["decision"] in ("independent", "inconclusive")
    assert doc["p_value"] > 0.01
    assert doc["fingerprint_signed"] is True
    assert doc["matching_rate"] < doc["threshold"]
    assert len(doc["calibration"]["null"]["references"]) == 3
    assert doc["scores"]["decision"] != "derived"
    assert doc["scores"]["p_value"] > 0.01
    assert doc["alpha"] == doc["scores"]["alpha"] == 0.0005


@pytest.mark.slow
def test_on_the_fly_compare(cli, files: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    run = cli(
        "ip", "compare", str(files["owner"]), str(files["pruned"]), "--data",
        str(files["data"]), "--label", "digit", "--points", "80", "--references", "4", "--json",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert run.json()["decision"] == "derived"  # type: ignore[index]


def test_bad_input_exits_2(cli, files: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fp_json = str(files["small_fp"])
    doc = json.loads(Path(fp_json).read_text(encoding="utf-8"))
    doc["labels"][0] = (doc["labels"][0] + 1) % 10
    (tmp_path / "tampered.json").write_text(json.dumps(doc), encoding="utf-8")
    owner, data = str(files["owner"]), str(files["data"])
    cases = [
        (("ip", "compare", owner, "--data", data), "give SUSPECT --fingerprint"),
        (("ip", "compare", owner, owner, "--fingerprint", fp_json), "only the SUSPECT"),
        (("ip", "compare", owner, "--fingerprint", "missing.json"), "not found"),
        (("ip", "compare", owner, "--fingerprint", "tampered.json"), "does not verify"),
        (("ip", "fingerprint", owner, "--data", data, "--out", "x.json"), "--label is needed"),
        (("ip", "compare", owner, "--fingerprint", fp_json, "--key", "env:NO_SUCH"), "NO_SUCH"),
    ]
    for args, message in cases:
        run = cli(*args)
        assert run.code == 2, (args, run.stdout, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert message in run.stderr
