"""`redwatch harden --drop-rows` end to end: 10 % of breast-cancer labels flipped with a seed,
a random forest trained on them, the real `redwatch data scan --quarantine`, then the retrain
without the quarantine (exit 0, agreement with the quarantine falls, the folder is complete);
a bad quarantine exits 2 with one line and writes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

pytestmark = pytest.mark.e2e
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
FAST_RESCAN = "probes:\n  evasion.tree_walk: {samples: 30}\n"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[int]]:
    """train.csv with 56 seeded label flips and a forest trained on all of it (it learns them)."""
    root = tmp_path_factory.mktemp("story")
    data = load_breast_cancer(as_frame=True)
    y = data.target.to_numpy().copy()
    flipped = np.random.default_rng(0).choice(len(y), len(y) // 10, replace=False)
    y[flipped] = 1 - y[flipped]
    frame = data.data.copy()
    frame["diagnosis"] = y
    frame.to_csv(root / "train.csv", index=False)
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(data.data, y)
    joblib.dump(model, root / "model.joblib")
    return root / "model.joblib", root / "train.csv", set(flipped.tolist())


def _records(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.slow
def test_scan_quarantine_then_retrain_without_it(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, story: tuple[Path, Path, set[int]]
) -> None:
    model, train, flipped = story
    (tmp_path / "redwatch.yaml").write_text(FAST_RESCAN, encoding="utf-8")
    scan = cli(
        "data", "scan", str(train), "--label", "diagnosis", "--quarantine", "q.csv",
        extra_env=ONE_THREAD,
    )  # fmt: skip
    assert scan.code == 1, scan.stderr
    body = _records(train)[1:]
    quarantined = _records(tmp_path / "q.csv")[1:]
    caught = {i for i, r in enumerate(body) if r in quarantined}
    assert len(caught & flipped) >= 0.8 * len(flipped)

    run = cli(
        "harden", str(model), "--data", str(train), "--label", "diagnosis",
        "--drop-rows", "q.csv", "--out", "retrained", "--probe", "evasion.tree_walk",
        extra_env=ONE_THREAD,
    )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr
    assert "agreement with the quarantine" in run.stdout
    out = tmp_path / "retrained"
    assert sorted(p.name for p in out.iterdir()) == [
        "harden.json",
        "model.joblib",
        "report.md",
        "scan-after",
        "scan-before",
    ]
    record = json.loads((out / "harden.json").read_text())
    figures = record["drop_rows"]
    assert record["method"]["name"] == "drop-rows"
    assert record["quarantine"]["rows"] == len(quarantined)
    assert figures["agreement_before"] > 0.9  # the forest learned the flipped labels
    assert figures["agreement_after"] < figures["agreement_before"] - 0.5
    assert figures["accuracy_after"] >= figures["accuracy_control"] - 0.01
    assert figures["kept_rows"] == len(body) - len(quarantined)
    assert record["data"]["train_rows"] + record["data"]["eval_rows"] == figures["kept_rows"]
    assert record["comparison"]["rows"][0]["label"] == "clean accuracy"
    assert "Retrained without the quarantine" in (out / "report.md").read_text()
    retrained = joblib.load(out / "model.joblib")
    assert type(retrained).__name__ == "RandomForestClassifier"
    x = np.asarray([r[:-1] for r in quarantined], dtype=float)
    given = np.asarray([r[-1] for r in quarantined], dtype=int)
    assert np.mean(retrained.predict(x) == given) == pytest.approx(figures["agreement_after"])


def _bad_quarantine(train: Path, folder: Path, case: str) -> list[str]:
    """Write the quarantine file for `case` into folder; the extra CLI arguments."""
    header, *body = _records(train)
    q = folder / "q.csv"
    if case == "header":
        rows = [["x", *header[1:]], body[0]]
    elif case == "twice":
        rows = [header, body[3], body[3]]
    else:
        rows = [header, body[0]]
    with q.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return ["--method", "augment"] if case == "method" else []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("header", "different header"),
        ("twice", "q.csv line 3: record not found"),
        ("method", "drop --method"),
    ],
)
def test_bad_quarantine_exits_2_with_one_line_and_writes_nothing(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, story: tuple[Path, Path, set[int]], case: str, message: str
) -> None:
    model, train, _ = story
    extra = _bad_quarantine(train, tmp_path, case)
    run = cli(
        "harden", str(model), "--data", str(train), "--label", "diagnosis",
        "--drop-rows", "q.csv", "--out", "retrained", *extra,
    )  # fmt: skip
    assert run.code == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert message in lines[0]
    assert not (tmp_path / "retrained").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".retrained")]
