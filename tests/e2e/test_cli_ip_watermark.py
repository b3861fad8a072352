"""`redwatch ip watermark` end to end: an XGBoost credit model and the demo MNIST CNN (state
dict) are watermarked, written in their input format with a signed commitment that loads
back and matches the key's triggers; bad input exits 2 with one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from redwatch.demo.models import train_credit_gbm, train_mnist_cnn
from redwatch.ip.commitment import file_digest, load_commitment, open_triggers
from redwatch.ip.recipe import predict_labels

pytestmark = pytest.mark.e2e
KEY = "e2e-watermark-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def credit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo credit XGBoost model (joblib), its training rows as CSV, and a key file."""
    root = tmp_path_factory.mktemp("wm")
    demo = train_credit_gbm(n_estimators=60)
    joblib.dump(demo.model, root / "credit.joblib")
    frame = pd.DataFrame(demo.x_train, columns=list(demo.feature_names))
    frame["default"] = demo.y_train
    frame.to_csv(root / "train.csv", index=False)
    (root / "owner.key").write_text(KEY + "\n", encoding="utf-8")
    return {"model": root / "credit.joblib", "data": root / "train.csv", "key": root / "owner.key"}


def _watermark(cli, files: dict[str, Path], out: str, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        "ip", "watermark", str(files["model"]), "--data", str(files["data"]),
        "--label", "default", "--key", str(files["key"]), "--out", out, *extra,
    )  # fmt: skip


def test_watermark_credit_model(cli, credit: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _watermark(cli, credit, "marked.joblib", "--triggers", "60", "--references", "3")
    assert run.code == 0, run.stderr
    assert "trigger agreement:" in run.stdout
    assert "null agreement rate:" in run.stdout
    out = tmp_path / "marked.joblib"
    doc = load_commitment(tmp_path / "marked.joblib.commitment.json")
    assert doc["model"]["sha256"] == file_digest(out)
    assert doc["trigger"]["kind"] == "table"
    assert doc["trigger"]["n"] == 60
    assert len(doc["null"]["references"]) == 3
    triggers = open_triggers(doc, KEY.encode())
    marked = joblib.load(out)
    agreement = float(np.mean(predict_labels(marked, triggers.inputs) == triggers.labels))
    assert agreement == doc["embedding"]["trigger_agreement"] >= 0.8
    assert doc["embedding"]["p_value"] < 1e-6
    assert doc["clean_accuracy"]["before"] - doc["clean_accuracy"]["after"] < 0.02
    original = joblib.load(credit["model"])
    assert np.mean(predict_labels(original, triggers.inputs) == triggers.labels) == 0.0


def test_bad_input_exits_2_and_writes_nothing(cli, credit: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    short = tmp_path / "short.key"
    short.write_text("short", encoding="utf-8")
    cases = [
        (_watermark(cli, {**credit, "key": short}, "a.joblib"), "at least 16"),
        (_watermark(cli, credit, "a.joblib", "--label"), ""),
        (_watermark(cli, credit, str(credit["model"])), "must differ"),
        (_watermark(cli, {**credit, "data": tmp_path / "none.csv"}, "a.joblib"), "not found"),
        (_watermark(cli, credit, "a.joblib", "--kind", "audio"), "--kind"),
    ]
    for run, message in cases:
        assert run.code == 2, run.stdout + run.stderr
        assert message in run.stderr
        assert "Traceback" not in run.stderr
    wrong_label = cli(
        "ip", "watermark", str(credit["model"]), "--data", str(credit["data"]), "--label",
        "nope", "--key", str(credit["key"]), "--out", "a.joblib",
    )  # fmt: skip
    assert wrong_label.code == 2
    assert "label column 'nope'" in wrong_label.stderr
    assert not (tmp_path / "a.joblib").exists()
    assert not (tmp_path / "a.joblib.commitment.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".a.joblib")] == []


@pytest.mark.slow
def test_watermark_mnist_state_dict(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    demo = train_mnist_cnn(epochs=1, threads=1)
    torch.save(demo.model.state_dict(), tmp_path / "cnn.pt")
    frame = pd.DataFrame(demo.x_train[:1500], columns=list(demo.feature_names))
    frame["digit"] = demo.y_train[:1500]
    frame.to_csv(tmp_path / "mnist.csv", index=False)
    (tmp_path / "owner.key").write_text(KEY, encoding="utf-8")
    run = cli(
        "ip", "watermark", "cnn.pt", "--data", "mnist.csv", "--label", "digit", "--key",
        "owner.key", "--out", "cnn-marked.pt", "--commitment", "c.json", "--model-class",
        "redwatch.demo.mnist_net:MnistCNN", "--triggers", "40", "--epochs", "3",
        "--references", "1", "--reference-epochs", "1",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    doc = load_commitment(tmp_path / "c.json")
    assert doc["trigger"]["kind"] == "image"
    assert doc["model"]["kind"] == "torch"
    state = torch.load(tmp_path / "cnn-marked.pt", weights_only=True)  # a state dict again
    from redwatch.demo.mnist_net import MnistCNN

    net = MnistCNN()
    net.load_state_dict(state)
    triggers = open_triggers(doc, KEY.encode())
    assert np.mean(predict_labels(net, triggers.inputs) == triggers.labels) >= 0.5
    assert json.loads((tmp_path / "c.json").read_text())["embedding"]["p_value"] < 1e-6
