"""`harden --drop-rows` in process: exact multiset matching of the quarantine, the split of the
kept rows, label values given back, the verdict, and whole runs on a scikit-learn forest and a
small torch network that learned flipped labels; bad input and a failed re-scan leave nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from redwatch.data.quarantine import write_quarantine
from redwatch.exceptions import DataError, UsageError
from redwatch.harden import drop_rows as drop_rows_module
from redwatch.harden.drop_rows import DropRowsRequest, run_drop_rows
from redwatch.harden.pipeline import HardenRequest
from redwatch.harden.retrain import Figures, match_quarantine, restore_labels, split_kept
from redwatch.store.repository import Store

NOISE = {"evasion.noise": {"samples": 40, "draws": 2}}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The data scan's boosted trees thrash on a shared machine with more threads."""
    with threadpool_limits(1):
        yield


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as s:
        yield s


def _write(path: Path, rows: list[list[str]], blank_after_header: bool = False) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(rows[0])
        if blank_after_header:
            fh.write("\n")
        writer.writerows(rows[1:])
    return path


DATA = [["a", "y"], ["1", "0"], ["2", "1"], ["1", "0"], ["3", "1"], ["1", "0"]]


def test_quarantine_is_matched_as_an_exact_multiset(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.csv", DATA)
    q = _write(tmp_path / "q.csv", [DATA[0], ["1", "0"], ["3", "1"], ["1", "0"]])
    match = match_quarantine(data, q, 5)
    assert match.dropped.tolist() == [0, 2, 3]  # two copies of "1,0" take two rows
    assert match.kept.tolist() == [1, 4]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (None, "quarantine file not found"),
        ([], "is empty"),
        ([DATA[0]], "no quarantined rows"),
        ([["b", "y"], ["1", "0"]], "different header"),
        ([DATA[0], ["2", "1"], ["2.0", "1"]], "q.csv line 4: record not found"),
        ([DATA[0], ["2", "1"], ["2", "1"]], "q.csv line 4: record not found"),
    ],
)
def test_bad_quarantine_files(tmp_path: Path, rows: list[list[str]] | None, message: str) -> None:
    data = _write(tmp_path / "d.csv", DATA)
    q = tmp_path / "q.csv"
    if rows == []:
        q.write_text("")
    elif rows is not None:
        _write(q, rows, blank_after_header=True)  # line numbers count the blank line
    with pytest.raises(DataError, match=message):
        match_quarantine(data, q, 5)


def test_split_holds_out_only_kept_rows_stratified_and_seeded() -> None:
    y = np.array([0, 1] * 50)
    kept = np.setdiff1d(np.arange(100), np.arange(0, 100, 7))
    train, held = split_kept(y, kept, 0.25, seed=3)
    assert set(train) | set(held) == set(kept)
    assert not set(train) & set(held)
    assert len(held) == round(0.25 * len(kept))
    assert abs(np.mean(y[held]) - np.mean(y[kept])) < 0.05
    again = split_kept(y, kept, 0.25, seed=3)
    assert again[1].tolist() == held.tolist()
    with pytest.raises(DataError, match="too few rows"):
        split_kept(y, kept[:2], 0.25, seed=0)


@pytest.mark.parametrize("pipeline", [False, True])
def test_restore_labels_gives_back_the_original_label_values(pipeline: bool) -> None:
    x, y = make_classification(n_samples=80, n_features=4, random_state=0)
    model = LogisticRegression()
    if pipeline:
        model = make_pipeline(StandardScaler(), model)
    model.fit(x, y)
    assert restore_labels(model, np.array(["fraud", "ok"]))
    assert set(model.predict(x)) == {"fraud", "ok"}
    assert (model.predict(x) == np.array(["fraud", "ok"])[y]).mean() > 0.8


def test_verdict_needs_lower_agreement_and_accuracy_within_a_point() -> None:
    base = {"accuracy_before": 1.0, "agreement_control": 0.9, "quarantined_rows": 5}
    ok = Figures(
        **base,
        accuracy_control=0.95,
        accuracy_after=0.94,
        agreement_before=0.9,
        agreement_after=0.2,
        kept_rows=50,
    )
    assert ok.passed
    assert "passed" in ok.verdict
    assert not replace(ok, accuracy_after=0.93).passed
    assert not replace(ok, agreement_after=0.9).passed
    assert ok.to_dict()["passed"] is True


def _flipped_files(folder: Path) -> tuple[Path, Path, Path, set[int]]:
    """A forest trained on data with 10 % flipped string labels, and the quarantine of the
    flipped rows written by the real quarantine writer."""
    x, y = make_classification(
        n_samples=400, n_features=5, n_informative=4, n_redundant=0, random_state=0
    )
    flipped = np.random.default_rng(1).choice(len(y), 40, replace=False)
    y[flipped] = 1 - y[flipped]
    labels = np.where(y == 1, "fraud", "ok")
    cols = [f"f{i}" for i in range(5)]
    frame = pd.DataFrame(x, columns=cols).assign(label=labels)
    frame.to_csv(folder / "data.csv", index=False)
    model = RandomForestClassifier(n_estimators=15, random_state=0)
    joblib.dump(model.fit(frame[cols], labels), folder / "model.joblib")
    write_quarantine(folder / "data.csv", flipped.tolist(), folder / "q.csv", len(y))
    return folder / "model.joblib", folder / "data.csv", folder / "q.csv", set(flipped.tolist())


def _request(model: Path, data: Path, q: Path, out: Path, **kw: object) -> DropRowsRequest:
    args: dict[str, object] = {
        "model": str(model),
        "data": data,
        "out": out,
        "label": "label",
        "probes": ["evasion.noise"],
        "params": NOISE,
    }
    args.update(kw)
    return DropRowsRequest(HardenRequest(**args), q)  # type: ignore[arg-type]


def test_forest_retrained_without_flips_stops_agreeing_with_them(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, data, q, flipped = _flipped_files(tmp_path)
    out = tmp_path / "retrained"
    outcome = run_drop_rows(_request(model, data, q, out), store)
    assert sorted(p.name for p in out.iterdir()) == [
        "harden.json",
        "model.joblib",
        "report.md",
        "scan-after",
        "scan-before",
    ]
    f = outcome.figures
    assert f.quarantined_rows == len(flipped) == 40
    assert f.agreement_before > 0.9  # the forest memorised the flipped labels
    assert f.agreement_control > 0.5
    assert f.agreement_after < 0.3
    assert f.passed
    assert f.still_flagged < f.quarantined_rows  # the kept rows look cleaner
    assert "label_errors" in f.detectors
    record = json.loads((out / "harden.json").read_text())
    assert record["method"]["name"] == "drop-rows"
    assert record["method"]["labels_restored"] is True
    assert "RandomForestClassifier" in record["method"]["recipe"]
    assert record["data"]["train_rows"] + record["data"]["eval_rows"] == 360
    assert len(record["quarantine"]["sha256"]) == 64
    assert record["drop_rows"]["passed"] is True
    assert store.get_campaign(record["campaigns"]["after"]) is not None
    assert outcome.after.target.endswith("-after")
    assert outcome.before.config["rows"] == record["data"]["eval_rows"]
    retrained = joblib.load(out / "model.joblib")
    assert set(retrained.classes_) == {"fraud", "ok"}  # answers like the model it replaces
    assert "agreement with the quarantine" in (out / "report.md").read_text()


@pytest.mark.slow  # importing torch and training twice: about 10 s
def test_torch_network_is_retrained_from_scratch(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    torch.set_num_threads(1)
    digits = load_digits()
    x, y = digits.data[:500] / 16.0, digits.target[:500].copy()
    flipped = np.random.default_rng(0).choice(len(y), 50, replace=False)
    y[flipped] = (y[flipped] + 1) % 10
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    for _ in range(200):  # long enough to memorise the flipped labels
        opt.zero_grad()
        nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    torch.save(net, tmp_path / "net.pt")
    pd.DataFrame(x, columns=[f"p{i}" for i in range(64)]).assign(label=y).to_csv(
        tmp_path / "d.csv", index=False
    )
    write_quarantine(tmp_path / "d.csv", flipped.tolist(), tmp_path / "q.csv", len(y))
    req = _request(
        tmp_path / "net.pt", tmp_path / "d.csv", tmp_path / "q.csv", tmp_path / "o",
        trust_model=True, epochs=20,
    )  # fmt: skip
    outcome = run_drop_rows(req, store)
    assert (tmp_path / "o" / "model.pt").is_file()
    assert outcome.record["method"]["epochs"] == 20
    assert "re-initialised PyTorch module" in outcome.record["method"]["recipe"]
    assert outcome.figures.agreement_before > 0.8
    assert outcome.figures.agreement_after < 0.3
    assert outcome.figures.accuracy_after > 0.8


def _nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")]


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"method": "augment"}, UsageError, "drop --method"),
        ({"kind": "interactions"}, UsageError, "unknown --kind"),
        ({"holdout": 0.0}, UsageError, "holdout"),
        ({"label": None}, DataError, "labelled data"),
    ],
)
def test_bad_requests_write_nothing(  # type: ignore[no-untyped-def]
    store, tmp_path, kw: dict[str, object], error: type[Exception], message: str
) -> None:
    model, data, q, _ = _flipped_files(tmp_path)
    out = tmp_path / "o"
    kind = str(kw.pop("kind", "tabular"))
    req = _request(model, data, q, out, **kw)
    req.kind = kind
    with pytest.raises(error, match=message):
        run_drop_rows(req, store)
    _nothing_written(tmp_path, out)


def test_a_failed_rescan_removes_the_output_folder(store, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model, data, q, _ = _flipped_files(tmp_path)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("re-scan failed")

    monkeypatch.setattr(drop_rows_module, "rescan", broken)
    out = tmp_path / "o"
    with pytest.raises(RuntimeError, match="re-scan failed"):
        run_drop_rows(_request(model, data, q, out), store)
    _nothing_written(tmp_path, out)
