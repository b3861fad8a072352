"""No evasion probe ever reports an infeasible example.

A card-fraud table with declared constraints (bounds, integers, immutable features, a one-hot
payment type, `amount >= 0`, `balance_after = balance_before - amount`, costs) goes through
the same path as `redwatch scan` (docs/examples/redwatch-constraints.yaml → ScanOptions →
prepare_input); then every registered evasion probe that applies runs, and every example it
reports must satisfy the spec. Probes registered later are covered automatically.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import ClassifierMixin
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.config import load_project_config
from redwatch.engine.campaign import ScanOptions, prepare_input
from redwatch.engine.data import Dataset
from redwatch.engine.planner import available_probes
from redwatch.exceptions import ProbeError, QueryBudgetExceeded
from redwatch.findings import Finding
from redwatch.probes.base import Budget, ProbeContext
from redwatch.targets.sklearn_target import SklearnTarget

EXAMPLE = Path(__file__).parents[4] / "docs" / "examples" / "redwatch-constraints.yaml"
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
QUERIES = 20_000


def fraud_table(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic transactions; fraud is large relative to the balance, by wire, at night,
    from young accounts."""
    rng = np.random.default_rng(seed)
    before = rng.integers(200, 8000, n).astype(float)
    amount = np.round(rng.beta(2, 5, n) * before, 2)
    age = rng.integers(18, 85, n).astype(float)
    account = rng.integers(0, 3000, n).astype(float)
    hour = rng.integers(0, 24, n).astype(float)
    pay = np.eye(3)[rng.choice(3, n, p=[0.6, 0.25, 0.15])]
    night = (hour < 6).astype(float)
    logit = (
        6.0 * amount / before + 1.5 * pay[:, 1] + 1.0 * night - account / 1000.0 - 2.0
    ) + rng.normal(0, 0.3, n)
    x = np.column_stack([amount, before, before - amount, age, account, hour, pay])
    return x, (logit > 0).astype(int)


def _logreg() -> ClassifierMixin:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))  # type: ignore[no-any-return]


def _boosting() -> ClassifierMixin:
    return GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)


def _scan_setup(model: ClassifierMixin) -> tuple[SklearnTarget, np.ndarray, np.ndarray, dict]:
    """Target with its spec attached exactly as `redwatch scan` does it."""
    x, y = fraud_table()
    model.fit(x, y)  # type: ignore[attr-defined]
    target = SklearnTarget(model, name="fraud")
    project = load_project_config(EXAMPLE)
    options = ScanOptions(
        out_dir=Path("unused"),
        params=project.probes,
        features=project.features,
        onehot=project.onehot,
        constraints=project.constraints,
        config_source=str(EXAMPLE),
        max_rows=300,
    )
    inputs = prepare_input(target, Dataset(x, y, COLUMNS, "is_fraud", "fraud.csv"), options)
    return target, inputs.x, inputs.y, dict(options.params)


def _run_all(target: SklearnTarget, x: np.ndarray, y: np.ndarray, params: dict) -> list[Finding]:
    """Every registered evasion probe that applies, each within its own small budget."""
    findings: list[Finding] = []
    ran = []
    for name, cls in sorted(available_probes().items()):
        if not name.startswith("evasion.") or not cls.applies(target.capabilities):
            continue
        ctx = ProbeContext(
            x=x,
            y=y,
            budget=Budget(queries=QUERIES, seconds=20.0),
            seed=0,
            params=dict(params.get(name, {"samples": 16})),
        )
        try:
            with target.limit(QUERIES):
                findings.extend(cls().run(target, ctx))
        except (QueryBudgetExceeded, ProbeError):
            pass
        ran.append(name)
    assert ran, "no evasion probe applied"
    return findings


def _reported_examples(findings: list[Finding], n_features: int) -> list[tuple[str, np.ndarray]]:
    """Every 2-D feature-space array a finding reports as an example (x_adv, x_flipped …)."""
    out = []
    for f in findings:
        for ev in f.evidence:
            for key, arr in ev.arrays.items():
                a = np.asarray(arr)
                if key.startswith("x_") and a.ndim == 2 and a.shape[1] == n_features:
                    out.append((f"{f.probe}:{key}", a))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("make_model", [_logreg, _boosting], ids=["logreg", "boosting"])
def test_no_probe_reports_an_infeasible_example(make_model: Callable[[], ClassifierMixin]) -> None:
    target, x, y, params = _scan_setup(make_model())
    spec = target.capabilities.input_spec
    assert spec is not None
    assert spec.relations
    assert spec.onehot
    assert spec.derived
    findings = _run_all(target, x, y, params)
    examples = _reported_examples(findings, spec.n_features)
    assert examples, "no probe reported an example: the test would pass vacuously"
    for where, arr in examples:
        assert spec.feasible(arr).all(), f"{where}: {spec.violations(arr)}"
    frozen = sorted(spec.immutable)
    for f in findings:
        for ev in f.evidence:
            if "x" in ev.arrays and "x_adv" in ev.arrays:
                np.testing.assert_array_equal(
                    ev.arrays["x_adv"][:, frozen], ev.arrays["x"][:, frozen]
                )


def test_cheapest_evasion_is_reported_in_user_units() -> None:
    target, x, y, _ = _scan_setup(_logreg())
    spec = target.capabilities.input_spec
    assert spec is not None
    cls = available_probes()["evasion.pgd"]
    ctx = ProbeContext(x=x, y=y, seed=0, params={"samples": 40, "norms": ["inf"]})
    findings = list(cls().run(target, ctx))
    assert findings, "PGD found no evasion on the fraud model"
    cheapest = findings[0].metrics["cheapest_evasion"]
    assert cheapest["cost_units"] == "user cost"
    changes = cheapest["changes"]
    assert changes
    assert not {"balance_before", "customer_age"} & set(changes)
    before = np.array([changes.get(n, {"from": 0.0})["from"] for n in spec.feature_names])
    after = np.array([changes.get(n, {"to": 0.0})["to"] for n in spec.feature_names])
    assert cheapest["cost"] == pytest.approx(float(spec.change_cost(after, before)[0]))
    if "amount" in changes:
        moved = changes["amount"]["to"] - changes["amount"]["from"]
        assert changes["balance_after"]["to"] - changes["balance_after"]["from"] == pytest.approx(
            -moved
        )
    assert "Cheapest feasible evasion:" in findings[0].description
