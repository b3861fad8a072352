"""Exact MILP evasion: the true radius (checked by enumerating a tree's leaf boxes), real
misclassification, declared constraints respected, multiclass."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from _tree_models import cancer, fraud, three_class
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from redwatch.attacks.trees.ensemble import TreeEnsemble, extract
from redwatch.attacks.trees.leafwalk import leaf_walk
from redwatch.attacks.trees.milp import milp_attack
from redwatch.exceptions import ProbeError
from redwatch.targets.spec import InputSpec


def _brute_radius(ens: TreeEnsemble, x0: np.ndarray, y0: int, spec: InputSpec) -> float:
    """Smallest L∞ (unit box) distance from x0 to a leaf box of another class (one tree)."""
    tree, best = ens.trees[0], np.inf
    stack = [(0, spec.lower.copy(), spec.upper.copy())]
    while stack:
        node, lo, hi = stack.pop()
        if tree.left[node] < 0:
            if tree.value[node].argmax() != y0:
                z = np.clip(x0, lo, hi)
                best = min(best, float(np.max(np.abs(z - x0) / spec.scale)))
            continue
        f, t = int(tree.feature[node]), np.asarray([tree.threshold[node]])
        hi_left, lo_right = hi.copy(), lo.copy()
        hi_left[f] = min(hi[f], ens.left_value(t)[0])
        lo_right[f] = max(lo[f], ens.right_value(t)[0])
        if lo[f] <= hi_left[f]:
            stack.append((int(tree.left[node]), lo, hi_left))
        if lo_right[f] <= hi[f]:
            stack.append((int(tree.right[node]), lo_right, hi))
    return best


def test_radius_equals_the_enumerated_minimum_on_a_tree() -> None:
    x, y, spec = cancer()
    model = DecisionTreeClassifier(max_depth=6, random_state=0).fit(x, y)
    ens = extract(model)
    assert ens is not None
    rows = np.arange(0, 569, 23)
    res = milp_attack(ens, x[rows], y[rows], spec)
    assert res.exact.all()
    assert res.success.all()
    expected = [_brute_radius(ens, x[i], int(y[i]), spec) for i in rows]
    np.testing.assert_allclose(res.radius, expected, atol=1e-9)
    assert np.all(model.predict(res.x_adv) != y[rows])
    np.testing.assert_allclose(res.norms, (np.abs(res.x_adv - x[rows]) / spec.scale).max(1))


@pytest.mark.parametrize("kind", ["forest", "xgboost", "gb"])
def test_exact_radius_is_never_above_the_heuristic(kind: str) -> None:
    x, y, spec = cancer()
    model = {
        "forest": RandomForestClassifier(n_estimators=6, max_depth=3, random_state=0),
        "xgboost": xgb.XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1),
        "gb": GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0),
    }[kind].fit(x, y)
    ens = extract(model)
    assert ens is not None
    rows = np.arange(3, 569, 71)
    rows = rows[ens.predict(x[rows]) == y[rows]]
    exact = milp_attack(ens, x[rows], y[rows], spec)
    walk = leaf_walk(ens, x[rows], y[rows], spec)
    assert exact.success.all()
    assert exact.exact.all()
    assert np.all(np.asarray(model.predict(exact.x_adv)) != y[rows])
    assert np.all(exact.radius <= walk.norms[walk.success] + 1e-9)
    unit = np.abs(exact.x_adv - x[rows]) / spec.scale
    np.testing.assert_allclose(exact.radius, unit.max(axis=1))


def test_multiclass_attacks_every_other_class() -> None:
    x, y = three_class()
    spec = InputSpec.from_data(x)
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    ens = extract(model)
    assert ens is not None
    rows = np.arange(0, 600, 60)
    rows = rows[ens.predict(x[rows]) == y[rows]]
    res = milp_attack(ens, x[rows], y[rows], spec)
    assert res.success.all()
    assert np.all(model.predict(res.x_adv) != y[rows])


def test_declared_constraints_hold_and_l1_works() -> None:
    x, y, spec = fraud()
    model = xgb.XGBClassifier(n_estimators=12, max_depth=3, n_jobs=1).fit(x, y)
    ens = extract(model)
    assert ens is not None
    rows = np.arange(0, 800, 50)
    rows = rows[ens.predict(x[rows]) == y[rows]]
    for norm in ("inf", "1"):
        res = milp_attack(ens, x[rows], y[rows], spec, norm=norm)
        ok = res.success
        assert ok.mean() > 0.5
        adv = res.x_adv[ok]
        assert spec.feasible(adv).all()
        np.testing.assert_array_equal(adv[:, 3], x[rows][ok, 3])  # age is immutable
        np.testing.assert_allclose(adv[:, 2], adv[:, 1] - adv[:, 0], atol=1e-6)
        assert np.all(adv[:, 4:].sum(axis=1) == 1.0)
        assert np.all(model.predict(adv) != y[rows][ok])


def test_time_limit_and_bad_input() -> None:
    x, y, spec = cancer()
    ens = extract(RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y))
    assert ens is not None
    res = milp_attack(ens, x[:3], y[:3], spec, deadline=0.0)
    assert res.stopped == "time"
    assert not res.success.any()
    assert not res.exact.any()
    with pytest.raises(ProbeError):
        milp_attack(ens, x[:3, :5], y[:3], spec)
    with pytest.raises(ProbeError):
        milp_attack(ens, x[:3], y[:3], spec, norm="2")
