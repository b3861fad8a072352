"""run_harden end to end in process: the hardened model, the record with every field, the
two campaigns in the store, and bad inputs that leave nothing behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import DataError, TargetError, UsageError
from redwatch.harden.pipeline import HardenRequest, run_harden
from redwatch.store.repository import Store

FAST = {
    "evasion.pgd": {"samples": 40, "steps": 10, "norms": ["inf"]},
    "evasion.square": {"samples": 30, "max_queries": 100},
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as s:
        yield s


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    x, y = make_classification(
        n_samples=500, n_features=5, n_informative=4, n_redundant=0, random_state=0
    )
    cols = [f"f{i}" for i in range(5)]
    labels = np.where(y == 1, "fraud", "ok")
    model = LogisticRegression(max_iter=1000).fit(pd.DataFrame(x[:300], columns=cols), labels[:300])
    joblib.dump(model, tmp_path / "model.joblib")
    frame = pd.DataFrame(x, columns=cols)
    frame["label"] = labels
    frame.to_csv(tmp_path / "data.csv", index=False)
    return tmp_path / "model.joblib", tmp_path / "data.csv"


def _request(files: tuple[Path, Path], out: Path, **kw: object) -> HardenRequest:
    model, data = files
    args: dict[str, object] = {
        "model": str(model),
        "data": data,
        "out": out,
        "label": "label",
        "probes": ["evasion.pgd", "evasion.square"],
        "params": FAST,
        "rounds": 2,
    }
    args.update(kw)
    return HardenRequest(**args)  # type: ignore[arg-type]


RECORD_FIELDS = {
    "record_version",
    "input_model",
    "data",
    "output_model",
    "method",
    "versions",
    "timings_seconds",
    "comparison",
    "campaigns",
}


def test_harden_writes_model_record_report_and_both_campaigns(files, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "hardened"
    outcome = run_harden(_request(files, out), store)
    assert sorted(p.name for p in out.iterdir()) == [
        "harden.json",
        "model.joblib",
        "report.md",
        "scan-after",
        "scan-before",
    ]
    record = json.loads((out / "harden.json").read_text())
    assert set(record) == RECORD_FIELDS
    assert len(record["input_model"]["sha256"]) == 64
    assert len(record["data"]["sha256"]) == 64
    assert record["data"]["train_rows"] + record["data"]["eval_rows"] == 500
    assert record["method"]["name"] == "augment"
    assert record["method"]["epsilon"] == 0.05
    assert record["method"]["rounds"] == 2
    assert record["method"]["seed"] == 0
    assert {"python", "redwatch", "numpy", "scikit-learn"} <= set(record["versions"])
    assert {"harden", "rescan", "total"} == set(record["timings_seconds"])
    assert record["campaigns"]["probes"] == ["evasion.pgd", "evasion.square"]
    rows = record["comparison"]["rows"]
    assert rows[0]["label"] == "clean accuracy"
    assert any(r["probe"] == "evasion.pgd" and r["reference"] for r in rows)
    assert record["comparison"]["improved"] == outcome.comparison.improved
    assert outcome.comparison.improved  # augmentation helps a logistic model under PGD
    # the hardened model loads and keeps the user's label values
    hardened = joblib.load(out / "model.joblib")
    assert set(hardened.classes_) == {"fraud", "ok"}
    # both campaigns are in the store under their own names, with the same plan and rows
    before = store.get_campaign(record["campaigns"]["before"])
    after = store.get_campaign(record["campaigns"]["after"])
    assert before is not None
    assert after is not None
    assert outcome.before.target.endswith("-before")
    assert outcome.after.target.endswith("-after")
    assert outcome.before.config["rows"] == outcome.after.config["rows"] == 100
    assert outcome.before.config["probes"] == outcome.after.config["probes"]
    assert (
        "verdict" in (out / "report.md").read_text()
        or "robustness" in (out / "report.md").read_text()
    )


def _assert_nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_data_without_labels_is_a_data_error(files, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(files[1]).drop(columns=["label"]).to_csv(unlabelled, index=False)
    with pytest.raises(DataError, match="labelled data"):
        run_harden(_request(files, out, data=unlabelled, label=None), store)
    _assert_nothing_written(tmp_path, out)


def test_missing_model_and_wrong_columns(files, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    with pytest.raises(TargetError, match="not found"):
        run_harden(_request(files, out, model=str(tmp_path / "nope.joblib")), store)
    bad = tmp_path / "bad.csv"
    pd.read_csv(files[1]).drop(columns=["f3"]).to_csv(bad, index=False)
    with pytest.raises(DataError, match="f3"):
        run_harden(_request(files, out, data=bad), store)
    _assert_nothing_written(tmp_path, out)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"method": "trades"}, "needs a PyTorch model"),
        ({"method": "magic"}, "unknown method"),
        ({"holdout": 1.5}, "holdout"),
        ({"model": "http://localhost:1/predict"}, "model file"),
    ],
)
def test_usage_errors(files, store, tmp_path, kw: dict[str, object], message: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    with pytest.raises(UsageError, match=message):
        run_harden(_request(files, out, **kw), store)
    _assert_nothing_written(tmp_path, out)


def test_existing_output_folder_is_refused(files, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        run_harden(_request(files, out), store)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
