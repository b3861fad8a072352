"""InputSpec with one-hot groups, linear relations, derived columns and costs: feasibility,
projection (the guarantee every tabular attack relies on) and the cost of a change."""

import numpy as np
import pytest

from redwatch.exceptions import UsageError
from redwatch.targets.spec import InputSpec

NAMES = ["amount", "balance_before", "balance_after", "age", "hour", "card", "wire", "cash"]
CONSTRAINTS = ["amount >= 0", "balance_after = balance_before - amount", "balance_after >= 0"]


def _table(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    before = rng.integers(100, 5000, n).astype(float)
    amount = np.round(rng.uniform(0.0, 0.95, n) * before, 2)
    age = rng.integers(18, 90, n).astype(float)
    hour = rng.integers(0, 24, n).astype(float)
    pay = np.eye(3)[rng.integers(0, 3, n)]
    return np.column_stack([amount, before, before - amount, age, hour, pay])


def _spec(x: np.ndarray, **kw: object) -> InputSpec:
    decl: dict[str, object] = {
        "immutable": ["age"],
        "onehot": [["card", "wire", "cash"]],
        "constraints": CONSTRAINTS,
        "cost": {"amount": 1.0, "hour": 5.0},
    }
    decl.update(kw)
    return InputSpec.from_data(x, NAMES).declare(**decl)  # type: ignore[arg-type]


def test_declare_marks_derived_tightens_bounds_and_freezes_attacker_features() -> None:
    x = _table()
    x[0, 0] = -3.0  # data dips below zero: "amount >= 0" must raise the lower bound
    spec = _spec(x)
    assert spec.derived == frozenset({2})
    assert spec.lower[0] == 0.0
    assert spec.mutable_mask.tolist() == [True, True, False, False, True, True, True, True]
    assert spec.onehot == ((5, 6, 7),)
    assert {5, 6, 7} <= spec.integer
    assert len(spec.relations) == 3
    eq = spec.relations[1]
    assert eq.solve_for == 2
    assert spec.cost is not None
    assert (spec.cost[0], spec.cost[4]) == (1.0, 5.0)


def test_equality_without_a_lone_feature_solves_for_the_last_mutable_one() -> None:
    names = ["a", "b", "c", "d"]
    x = np.random.default_rng(1).uniform(0, 1, (50, 4))
    x[:, 3] = 10.0 - x[:, 0] - x[:, 1] - x[:, 2]
    spec = InputSpec.from_data(x, names).declare(
        immutable=["d"], constraints=["a + b + c + d = 10"]
    )
    assert spec.derived == frozenset({2})  # d is immutable: c is the last free one
    lone_frozen = InputSpec.from_data(x, names).declare(
        immutable=["d"], constraints=["d = 10 - a - b - c"]
    )
    assert lone_frozen.derived == frozenset({2})
    assert lone_frozen.feasible(x).all()


@pytest.mark.parametrize(
    ("kw", "problem"),
    [
        ({"onehot": [["card"]]}, "two or more"),
        ({"onehot": [["card", "card"]]}, "two or more"),
        ({"onehot": [["card", "wire"], ["wire", "cash"]]}, "two groups"),
        ({"onehot": [["card", "nope"]]}, "unknown feature 'nope'"),
        ({"constraints": ["amount * hour <= 3"]}, "not linear"),
        ({"constraints": ["amount >= 10", "amount <= 5"]}, "no value inside"),
        ({"cost": {"amount": 0.0}}, "positive"),
        ({"cost": {"nope": 1.0}}, "unknown feature 'nope'"),
    ],
)
def test_bad_declarations_are_usage_errors(kw: dict[str, object], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        InputSpec.from_data(_table(), NAMES).declare(**kw)  # type: ignore[arg-type]


def test_feasible_checks_every_kind_of_rule() -> None:
    x = _table(20)
    spec = _spec(x)
    assert spec.feasible(x).all()
    cases = {
        "bounds": (4, 99.0),
        "integer": (4, 3.5),
        "one-hot value": (5, 0.5),
        "relation": (2, x[0, 2] + 1.0),
        "nan": (0, np.nan),
    }
    for what, (col, value) in cases.items():
        bad = x[:1].copy()
        bad[0, col] = value
        assert not spec.feasible(bad)[0], what
    two_hot = x[:1].copy()
    two_hot[0, 5:8] = [1.0, 1.0, 0.0]
    assert not spec.feasible(two_hot)[0]
    categorical = InputSpec.from_data(x, NAMES).declare(categorical={"hour": [0, 6, 12]})
    off = x[:1].copy()
    off[0, 4] = 7.0
    assert not categorical.feasible(off)[0]


def test_violations_name_the_broken_rule_and_row() -> None:
    x = _table(20)
    spec = _spec(x)
    bad = x.copy()
    bad[3, 2] += 50.0
    lines = spec.violations(bad)
    assert len(lines) == 1
    assert lines[0].startswith("row 3: violates")
    assert "'balance_after = balance_before - amount'" in lines[0]
    assert spec.violation_counts(bad) == {"'balance_after = balance_before - amount'": 1}


def test_project_snaps_onehot_restores_immutable_and_recomputes_derived() -> None:
    x = _table(10)
    spec = _spec(x)
    cand = x.copy()
    cand[:, 2] += 123.0  # the attacker cannot set a derived column
    cand[:, 3] += 7.0
    cand[:, 5:8] = [0.2, 0.7, 0.4]
    out = spec.project(cand, x)
    assert spec.feasible(out).all()
    np.testing.assert_array_equal(out[:, 3], x[:, 3])
    np.testing.assert_array_equal(out[:, 5:8], np.tile([0.0, 1.0, 0.0], (10, 1)))
    np.testing.assert_allclose(out[:, 2], x[:, 2])


def test_project_repairs_by_pulling_back_along_the_segment() -> None:
    x = _table(10)
    spec = _spec(x)
    cand = x.copy()
    cand[:, 0] = x[:, 1] * 3.0  # amount above the balance: balance_after would go negative
    out = spec.project(cand, x)
    assert spec.feasible(out).all()
    # as far towards the candidate as the balance (and the bounds) allow
    furthest = np.minimum(spec.upper[0], x[:, 1] - spec.lower[2])
    np.testing.assert_allclose(out[:, 0], furthest, rtol=0, atol=1e-2)
    assert (out[:, 0] > x[:, 0]).sum() >= 5


def test_infeasible_original_rows_come_back_unchanged() -> None:
    x = _table(5)
    spec = _spec(x)
    x0 = x.copy()
    x0[:, 2] += 10.0  # the original row itself breaks the balance equation
    cand = x0 + 1.0
    out = spec.project(cand, x0)
    # the per-feature projection fixes the equation, so rows may come back feasible; if not,
    # they are the original rows untouched
    still_bad = ~spec.feasible(out)
    np.testing.assert_array_equal(out[still_bad], x0[still_bad])


def test_project_is_always_feasible_from_a_feasible_start() -> None:
    """The guarantee, on random candidates of every size, including wild ones."""
    rng = np.random.default_rng(42)
    for trial in range(40):
        x = _table(50, seed=trial)
        extra = ["amount <= 0.9 * balance_before + 10", "hour - 2*card <= 22"]
        spec = _spec(x, constraints=[*CONSTRAINTS, *extra])
        x0 = x[spec.feasible(x)]
        size = rng.choice([0.01, 0.3, 3.0, 1e3])
        cand = x0 + rng.normal(0.0, 1.0, x0.shape) * spec.scale * size
        cand[rng.uniform(size=cand.shape) < 0.05] = rng.choice([np.inf, -np.inf, 1e12])
        out = spec.project(cand, x0)
        assert spec.feasible(out).all(), spec.violations(out)
        np.testing.assert_array_equal(out[:, 3], x0[:, 3])


def test_project_leaves_feasible_points_where_they_are() -> None:
    x = _table(30)
    spec = _spec(x)
    np.testing.assert_allclose(spec.project(x, x), x, rtol=0, atol=1e-9)


def test_chained_derived_columns_settle_whatever_the_order() -> None:
    names = ["a", "b", "c", "d"]
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (40, 4))
    x[:, 2] = x[:, 0] + x[:, 1]
    x[:, 3] = 2 * x[:, 2]
    spec = InputSpec.from_data(x, names).declare(constraints=["d = 2*c", "c = a + b"])
    assert spec.derived == frozenset({2, 3})
    cand = x.copy()
    cand[:, :2] *= 0.9
    out = spec.project(cand, x)
    np.testing.assert_allclose(out[:, 3], 2 * (out[:, 0] + out[:, 1]))
    assert spec.feasible(out).all()


def test_change_cost_in_user_units_and_fraction_of_range() -> None:
    x = _table(5)
    spec = _spec(x)
    moved = x.copy()
    moved[:, 0] -= 10.0
    moved[:, 2] += 10.0  # derived: follows from amount, not charged
    moved[:, 4] += 1.0
    assert spec.cost_units == "user cost"
    np.testing.assert_allclose(spec.change_cost(moved, x), 10.0 * 1.0 + 1.0 * 5.0)
    plain = InputSpec.from_data(x, NAMES)
    assert plain.cost_units == "fraction of range (L1)"
    expected = 10.0 / plain.scale[0] + 10.0 / plain.scale[2] + 1.0 / plain.scale[4]
    np.testing.assert_allclose(plain.change_cost(moved, x), expected)


def test_image_specs_keep_the_plain_projection() -> None:
    x = np.random.default_rng(0).uniform(0, 1, (8, 16))
    spec = InputSpec.from_data(x, image_shape=(1, 4, 4))
    cand = x + np.random.default_rng(1).normal(0, 0.5, x.shape)
    np.testing.assert_array_equal(spec.project(cand, x), np.clip(cand, spec.lower, spec.upper))
