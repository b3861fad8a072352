"""parse_relation and LinearRelation: the constraint language of redwatch.yaml."""

import numpy as np
import pytest

from redwatch.exceptions import UsageError
from redwatch.targets.constraints import LinearRelation, lone_feature, parse_relation

NAMES = ["amount", "balance_before", "balance_after", "age", "score.v2", "x1"]


def test_balance_equation_becomes_one_linear_equality() -> None:
    rel = parse_relation("balance_after = balance_before - amount", NAMES)
    assert rel.op == "=="
    assert dict(rel.coeffs) == {2: 1.0, 1: -1.0, 0: 1.0}
    assert rel.rhs == 0.0
    assert rel.text == "balance_after = balance_before - amount"


@pytest.mark.parametrize(
    ("text", "coeffs", "op", "rhs"),
    [
        ("amount >= 0", {0: 1.0}, ">=", 0.0),
        ("amount<=100", {0: 1.0}, "<=", 100.0),
        ("2*amount + 3 <= balance_before", {0: 2.0, 1: -1.0}, "<=", -3.0),
        ("-amount - -2 >= -1.5e2", {0: -1.0}, ">=", -152.0),
        ("amount * 0.5 == x1 / 4", {0: 0.5, 5: -0.25}, "==", 0.0),
        ("score.v2 + amount + amount >= 1", {4: 1.0, 0: 2.0}, ">=", 1.0),
        ("3 >= age", {3: -1.0}, ">=", -3.0),
        ("amount - x1 + x1 >= 1", {0: 1.0}, ">=", 1.0),
    ],
)
def test_valid_relations_parse_to_coefficients(
    text: str, coeffs: dict[int, float], op: str, rhs: float
) -> None:
    rel = parse_relation(text, NAMES)
    assert rel.op == op
    assert dict(rel.coeffs) == pytest.approx(coeffs)
    assert set(rel.coeffs) == set(coeffs)
    assert rel.rhs == pytest.approx(rhs)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("amount*age <= 3", "not linear"),
        ("amount / age >= 1", "not linear"),
        ("amount / 0 >= 1", "division by zero"),
        ("amout >= 0", "unknown feature 'amout'"),
        ("(amount) >= 0", "not supported"),
        ("amount < 3", "not supported"),
        ("amount >= 1 >= 2", "exactly one"),
        ("amount + 3", "exactly one"),
        ("amount >=", "empty"),
        ("amount amount >= 2", "missing operator"),
        ("amount + >= 2", "ends with an operator"),
        ("3 >= 2", "no feature"),
        ("amount - amount >= 0", "no feature"),
        ("amount >= 1 $", "unexpected character"),
        ("", "empty"),
        ("__import__('os') >= 0", "unknown feature"),
    ],
)
def test_anything_not_linear_is_a_one_line_usage_error(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_relation(text, NAMES)
    message = str(err.value)
    assert message.startswith(f"constraint {text!r}:")
    assert problem in message
    assert "\n" not in message


def test_residual_and_holds_per_row() -> None:
    rel = parse_relation("balance_after = balance_before - amount", NAMES)
    x = np.zeros((3, len(NAMES)))
    x[:, 0] = [10.0, 10.0, 10.0]
    x[:, 1] = [100.0, 100.0, 100.0]
    x[:, 2] = [90.0, 90.0 + 1e-9, 91.0]
    np.testing.assert_allclose(rel.residual(x), [0.0, 1e-9, 1.0], atol=1e-12)
    assert rel.holds(x).tolist() == [True, True, False]
    le = parse_relation("amount <= 5", NAMES)
    ge = parse_relation("amount >= 5", NAMES)
    x[:, 0] = [4.0, 5.0, 6.0]
    assert le.holds(x).tolist() == [True, True, False]
    assert ge.holds(x).tolist() == [False, True, True]


def test_tolerance_is_relative_to_the_size_of_the_terms() -> None:
    rel = parse_relation("balance_after = balance_before - amount", NAMES)
    x = np.zeros((2, len(NAMES)))
    x[:, 1] = 1e9
    x[:, 2] = [1e9 + 0.5, 1e9 + 5e4]
    assert rel.holds(x).tolist() == [True, False]


def test_solve_recomputes_the_chosen_column() -> None:
    rel = LinearRelation({2: 1.0, 1: -1.0, 0: 1.0}, "==", 0.0, "t", solve_for=2)
    x = np.array([[30.0, 100.0, 0.0, 0, 0, 0]])
    assert rel.solve(x).tolist() == [70.0]


def test_one_feature_relations_read_as_bounds() -> None:
    assert parse_relation("amount >= 0", NAMES).bound() == (0, ">=", 0.0)
    assert parse_relation("-2*amount >= -10", NAMES).bound() == (0, "<=", 5.0)
    assert parse_relation("amount + x1 >= 0", NAMES).bound() is None


def test_lone_feature_finds_the_side_with_one_name() -> None:
    assert lone_feature("balance_after = balance_before - amount", NAMES) == "balance_after"
    assert lone_feature("balance_before - amount == balance_after", NAMES) == "balance_after"
    assert lone_feature("2*x1 = amount + age", NAMES) is None
