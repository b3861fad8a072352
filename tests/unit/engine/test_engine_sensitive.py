"""Sensitive columns: read from the CSV (text side columns or features), checked, kept
row-aligned through sampling and handed to every probe as ctx.sensitive."""

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from redwatch.config import load_project_config
from redwatch.demo.datasets import load_credit_default
from redwatch.engine.campaign import ScanOptions, prepare_input
from redwatch.engine.data import Dataset, load_csv
from redwatch.engine.planner import Plan, PlannedProbe
from redwatch.engine.runner import CampaignRunner
from redwatch.exceptions import DataError
from redwatch.findings import Category, Finding
from redwatch.probes.base import Budget, Probe, ProbeContext
from redwatch.store.repository import Store
from redwatch.targets.base import Target
from redwatch.targets.sklearn_target import SklearnTarget


@pytest.fixture(scope="module")
def credit_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """800 rows of ISLR Default with `student` as text ("Yes"/"No") and a row id column."""
    x, y = load_credit_default()
    frame = x.iloc[:800].copy()
    frame["student"] = np.where(frame["student"] == 1, "Yes", "No")
    frame["row_id"] = np.arange(len(frame), dtype=np.float64)
    frame["default"] = y.iloc[:800].to_numpy()
    path = tmp_path_factory.mktemp("credit") / "credit.csv"
    frame.to_csv(path, index=False)
    return path


def _named_model(path: Path) -> SklearnTarget:
    """Logistic regression on balance and income only: student is not a model input."""
    frame = pd.read_csv(path)
    model = LogisticRegression(max_iter=500).fit(frame[["balance", "income"]], frame["default"])
    return SklearnTarget(model, name="credit")


def test_text_sensitive_column_is_kept_aside_not_as_a_feature(credit_csv: Path) -> None:
    data = load_csv(credit_csv, "default", sensitive=["student"])
    assert "student" not in data.feature_names
    assert data.x.shape == (800, 3)
    assert set(data.sensitive["student"]) == {"Yes", "No"}
    frame = pd.read_csv(credit_csv)
    assert list(data.sensitive["student"]) == list(frame["student"])


def test_numeric_sensitive_column_stays_a_feature(credit_csv: Path) -> None:
    data = load_csv(credit_csv, "default", sensitive=["income", "student"])
    assert "income" in data.feature_names
    column = data.x[:, data.feature_names.index("income")]
    np.testing.assert_array_equal(data.sensitive["income"], column)


def test_text_column_without_declaration_is_still_an_error(credit_csv: Path) -> None:
    with pytest.raises(DataError, match="'student' is not numeric"):
        load_csv(credit_csv, "default")


def test_unknown_sensitive_column_is_one_line(credit_csv: Path) -> None:
    with pytest.raises(DataError, match="sensitive column 'sex' not in") as info:
        load_csv(credit_csv, "default", sensitive=["sex"])
    assert "\n" not in str(info.value)


def test_empty_sensitive_cell_names_the_row(credit_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(credit_csv)
    frame.loc[17, "student"] = None
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="sensitive column 'student' is empty at row 17"):
        load_csv(path, "default", sensitive=["student"])


def test_sampling_keeps_sensitive_values_on_their_rows(credit_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(credit_csv)
    target = SklearnTarget(
        LogisticRegression(max_iter=500).fit(
            frame[["balance", "income", "row_id"]], frame["default"]
        ),
        name="credit",
    )
    data = load_csv(credit_csv, "default", sensitive=["student"])
    options = ScanOptions(out_dir=tmp_path, max_rows=300, seed=3, sensitive=["student"])
    inputs = prepare_input(target, data, options)
    assert len(inputs.x) == 300
    rows = inputs.x[:, 2].astype(int)  # row_id is the model's third input
    assert len(set(rows)) == 300
    assert max(rows) > 400
    np.testing.assert_array_equal(inputs.sensitive["student"], frame["student"].to_numpy()[rows])
    assert inputs.config["sensitive"] == ["student"]


def test_feature_column_can_be_declared_without_load_csv(credit_csv: Path, tmp_path: Path) -> None:
    data = load_csv(credit_csv, "default", sensitive=["student"])
    target = _named_model(credit_csv)
    options = ScanOptions(out_dir=tmp_path, sensitive=["income", "student"])
    inputs = prepare_input(target, data, options)
    assert inputs.x.shape[1] == 2  # row_id dropped by the model's feature names
    assert sorted(inputs.sensitive) == ["income", "student"]
    np.testing.assert_array_equal(inputs.sensitive["income"], inputs.x[:, 1])


def test_undeclared_engine_column_is_a_data_error(credit_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(credit_csv)
    names = ["balance", "income"]
    data = Dataset(frame[names].to_numpy(), frame["default"].to_numpy(), names, "y", "c.csv")
    options = ScanOptions(out_dir=tmp_path, sensitive=["student"])
    with pytest.raises(DataError, match="sensitive column 'student' not in"):
        prepare_input(_named_model(credit_csv), data, options)


def test_scan_without_sensitive_is_unchanged(credit_csv: Path, tmp_path: Path) -> None:
    data = load_csv(credit_csv, "default", sensitive=["student"])
    inputs = prepare_input(_named_model(credit_csv), data, ScanOptions(out_dir=tmp_path))
    assert inputs.sensitive == {}
    assert "sensitive" not in inputs.config


def test_numeric_side_column_is_dropped_for_a_model_without_names(
    credit_csv: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(credit_csv)
    xs = frame[["balance", "income"]].to_numpy()
    target = SklearnTarget(LogisticRegression(max_iter=500).fit(xs, frame["default"]), name="m")
    sub = frame[["balance", "row_id", "income"]].to_numpy()
    data = Dataset(sub, frame["default"].to_numpy(), ["balance", "row_id", "income"], "y", "d.csv")
    inputs = prepare_input(target, data, ScanOptions(out_dir=tmp_path, sensitive=["row_id"]))
    np.testing.assert_array_equal(inputs.x, xs)
    np.testing.assert_array_equal(inputs.sensitive["row_id"], frame["row_id"].to_numpy())


class _Recorder(Probe):
    """Records the sensitive columns it was given as a metric."""

    name: ClassVar[str] = "test.sensitive_recorder"
    category: ClassVar[Category] = Category.FAIRNESS
    requires: ClassVar[frozenset[str]] = frozenset()
    references: ClassVar[tuple[str, ...]] = ()

    def run(self, target: Target, ctx: ProbeContext) -> list[Finding]:
        ctx.metrics["seen"] = {k: [str(v) for v in vals[:3]] for k, vals in ctx.sensitive.items()}
        ctx.metrics["rows"] = {k: len(v) == len(ctx.x) for k, v in ctx.sensitive.items()}
        return []


@pytest.fixture
def store(tmp_path: Path) -> Iterable[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as s:
        yield s


def test_probes_get_the_sensitive_columns(credit_csv: Path, tmp_path: Path, store: Store) -> None:
    target = _named_model(credit_csv)
    data = load_csv(credit_csv, "default", sensitive=["student"])
    inputs = prepare_input(target, data, ScanOptions(out_dir=tmp_path, sensitive=["student"]))
    plan = Plan([PlannedProbe(_Recorder, Budget())], [])
    result = CampaignRunner(store, tmp_path, formats=("json",)).run(target, "sklearn", inputs, plan)
    (run,) = result.probes
    first = [str(v) for v in pd.read_csv(credit_csv)["student"][:3]]
    assert run.metrics == {"seen": {"student": first}, "rows": {"student": True}}


def test_project_file_declares_sensitive_columns(tmp_path: Path) -> None:
    path = tmp_path / "redwatch.yaml"
    path.write_text("sensitive: [student, age]\n", encoding="utf-8")
    assert load_project_config(path).sensitive == ["student", "age"]
