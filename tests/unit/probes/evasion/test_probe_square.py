"""evasion.square: the epsilon sweep re-attacks only rows that still stand."""

import numpy as np

from redwatch.attacks.base import AttackResult
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.square import SquareProbe, WarmSweep


def test_warm_sweep_attacks_only_rows_not_yet_fooled() -> None:
    seen: list[int] = []

    def attack(u0: np.ndarray, y: np.ndarray, eps: float) -> AttackResult:
        seen.append(len(u0))
        ok = u0[:, 0] < eps  # rows "fall" once eps passes their first feature
        x_adv = np.where(ok[:, None], np.clip(u0 + eps, 0, 1), u0)
        return AttackResult(x_adv, ok, np.full(len(u0), 7), np.where(ok, eps, 0.0))

    u0 = np.linspace(0.0, 0.9, 10)[:, None] * np.ones((1, 3))
    warm = WarmSweep(attack, "inf")
    first = warm(u0, np.zeros(10, int), 0.35)
    second = warm(u0, np.zeros(10, int), 0.75)
    assert seen == [10, 6]
    assert first.success.sum() == 4
    assert second.success.sum() == 8  # first features 0.0 .. 0.7
    assert np.all(second.queries[first.success] == 0)  # reused, no new queries
    np.testing.assert_array_equal(second.x_adv[first.success], first.x_adv[first.success])


def test_square_probe_spends_fewer_queries_than_a_cold_sweep(cancer_logreg) -> None:  # type: ignore[no-untyped-def]
    case = cancer_logreg
    params = {"samples": 30, "max_queries": 300}
    ctx = ProbeContext(case.x, case.y, Budget(), seed=0, params=params)
    (f,) = SquareProbe().run(case.target, ctx)
    cold_cap = 30 * 300 * len(f.metrics["curve"])
    assert 0 < f.metrics["queries"] < cold_cap
    rates = [p["success_rate"] for p in f.metrics["curve"]]
    assert rates == sorted(rates)
    assert f.metrics["success_rate"] >= 0.4
