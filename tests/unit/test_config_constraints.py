"""redwatch.yaml's constraint declarations: costs, one-hot groups and linear constraints,
from the file to the InputSpec that `redwatch scan` attaches; every mistake is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from redwatch.config import load_project_config
from redwatch.engine.campaign import ScanOptions, build_spec
from redwatch.engine.data import Dataset
from redwatch.exceptions import DataError, UsageError

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "redwatch-constraints.yaml"
COLUMNS = [
    "amount",
    "balance_before",
    "balance_after",
    "customer_age",
    "account_age_days",
    "hour",
    "pay_card",
    "pay_wire",
    "pay_cash",
]


def _data(n: int = 50) -> Dataset:
    rng = np.random.default_rng(0)
    before = rng.integers(100, 5000, n).astype(float)
    amount = np.round(rng.uniform(0, 0.9, n) * before, 2)
    other = np.column_stack(
        [rng.integers(18, 80, n), rng.integers(0, 2000, n), rng.integers(0, 24, n)]
    ).astype(float)
    pay = np.eye(3)[rng.integers(0, 3, n)]
    x = np.column_stack([amount, before, before - amount, other, pay])
    return Dataset(x, None, list(COLUMNS), None, "tx.csv")


def _options(path: Path) -> ScanOptions:
    project = load_project_config(path)
    return ScanOptions(
        out_dir=path.parent,
        features=project.features,
        onehot=project.onehot,
        constraints=project.constraints,
        config_source=str(path),
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "redwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_parses_and_builds_the_spec() -> None:
    project = load_project_config(EXAMPLE)
    assert project.onehot == [["pay_card", "pay_wire", "pay_cash"]]
    assert "balance_after = balance_before - amount" in project.constraints
    assert project.features["account_age_days"].cost == 50
    spec = build_spec(_data(), _options(EXAMPLE))
    assert spec.derived == frozenset({COLUMNS.index("balance_after")})
    assert spec.onehot == ((6, 7, 8),)
    assert spec.cost is not None
    assert spec.cost[COLUMNS.index("account_age_days")] == 50.0
    assert not spec.mutable_mask[[1, 2, 3]].any()
    assert spec.feasible(_data().x).all()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "features:\n  amount: {cost: 0}\n",
            "features.amount.cost: Input should be greater than 0",
        ),
        ("features:\n  amount: {cost: -2}\n", "features.amount.cost: Input should be greater"),
        ("onehot: [[pay_card]]\n", "onehot: one-hot group ['pay_card'] needs two or more"),
        ("constraints: ['  ']\n", "constraints: empty constraint"),
        ("constraints: 'amount >= 0'\n", "constraints: Input should be a valid list"),
    ],
)
def test_malformed_declarations_fail_at_load(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        load_project_config(path)
    assert str(err.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("constraints: ['amount * hour <= 3']\n", "constraints.0: constraint 'amount * hour <= 3'"),
        ("constraints: ['amount >= 0', 'amout <= 9']\n", "constraints.1: constraint 'amout <= 9'"),
        ("onehot: [[pay_card, pay_crypto]]\n", "onehot.0: unknown feature 'pay_crypto'"),
        ("features:\n  amont: {cost: 1}\n", "features.amont: unknown feature 'amont'"),
    ],
)
def test_bad_constraints_name_file_field_and_feature(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        build_spec(_data(), _options(path))
    assert str(err.value).startswith(f"{path}: {where}")
    assert "\n" not in str(err.value)


def test_data_that_breaks_a_declared_constraint_is_a_data_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "constraints: ['balance_after = balance_before - amount']\n")
    data = _data(40)
    data.x[:3, 2] += 1.0
    with pytest.raises(DataError) as err:
        build_spec(data, _options(path))
    message = str(err.value)
    assert message.startswith("3 of 40 rows of the data violate 'balance_after = balance_before")
    assert str(path) in message


def test_data_that_is_not_one_hot_is_a_data_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "onehot: [[pay_card, pay_wire, pay_cash]]\n")
    data = _data(40)
    data.x[5, 6:9] = [1.0, 1.0, 0.0]
    with pytest.raises(
        DataError, match=r"1 of 40 rows .* one-hot \(pay_card, pay_wire, pay_cash\)"
    ):
        build_spec(data, _options(path))
