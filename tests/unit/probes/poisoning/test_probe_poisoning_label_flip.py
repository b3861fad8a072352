"""poisoning.label_flip on real models: random and targeted flips, the accuracy table, the
finding, class names, the order rates are measured in, and the declarations."""

import numpy as np
import pytest
from _poisoning_cases import Case, cancer_case, digits_case
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from redwatch.exceptions import ProbeError
from redwatch.findings import Severity
from redwatch.probes.base import ProbeContext
from redwatch.probes.poisoning import BackdoorProbe, LabelFlipProbe
from redwatch.probes.poisoning.common import Settings, next_rate
from redwatch.probes.poisoning.label_flip import class_index
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.testing.conformance import probe_declaration_problems, run_probe_checked


@pytest.fixture(scope="module")
def digits() -> Case:
    return digits_case()


def test_random_flips_fill_the_table_and_cost_accuracy(digits: Case) -> None:
    ctx = ProbeContext(digits.x, digits.y, seed=0, params={"max_drop": 0.5})
    assert list(LabelFlipProbe().run(digits.target, ctx)) == []  # 50 points is out of reach
    m = ctx.metrics
    assert m["attack"] == "random label flips"
    assert [r["rate"] for r in m["rates"]] == [0.0, 0.01, 0.05, 0.1, 0.2]
    assert all("attack_success" not in r for r in m["rates"])
    assert [r["poisoned_rows"] for r in m["rates"]] == [
        round(f * m["train_rows"]) for f in (0, 0.01, 0.05, 0.1, 0.2)
    ]
    assert m["rates"][-1]["accuracy_drop"] > 0.01  # a fifth of wrong labels hurts
    assert m["max_accuracy_drop"] == max(r["accuracy_drop"] for r in m["rates"])
    assert m["min_rate_compromised"] is None
    assert m["train_rows"] + m["test_rows"] == len(digits.y)


def test_random_flips_compromise_the_cancer_model_at_a_strict_threshold() -> None:
    case = cancer_case()
    ctx = ProbeContext(case.x, case.y, seed=0, params={"max_drop": 0.02})
    (f,) = run_probe_checked(LabelFlipProbe, case.target, ctx)
    rate = ctx.metrics["min_rate_compromised"]
    drop = next(r["accuracy_drop"] for r in ctx.metrics["rates"] if r["rate"] == rate)
    assert drop >= 0.02
    assert f.title.startswith(f"{rate:.0%} poisoned training rows compromise the model")
    assert "clean accuracy" in f.title
    assert f.severity <= Severity.HIGH


def test_targeted_flips_send_the_source_class_to_the_target(digits: Case) -> None:
    ctx = ProbeContext(digits.x, digits.y, seed=0, params={"source": 3, "target": "8"})
    (f,) = run_probe_checked(LabelFlipProbe, digits.target, ctx)
    m = ctx.metrics
    assert (m["source_class"], m["target_class"]) == (3, 8)
    assert m["rates"][0]["attack_success"] < 0.1
    assert m["rates"][-1]["attack_success"] > 0.8
    assert "of class 3's test rows are predicted as class 8" in f.title
    with pytest.raises(ProbeError, match="both source and target"):
        list(
            LabelFlipProbe().run(
                digits.target, ProbeContext(digits.x, digits.y, params={"source": 1})
            )
        )


def test_classes_are_named_by_label_or_index() -> None:
    iris = load_iris()
    names = iris.target_names[iris.target]
    target = SklearnTarget(DecisionTreeClassifier(max_depth=2).fit(iris.data, names))
    assert class_index(target, "virginica", 3) == 2
    assert class_index(target, 1, 3) == 1
    with pytest.raises(ProbeError, match="unknown class 'rose'"):
        class_index(target, "rose", 3)
    with pytest.raises(ProbeError, match=r"unknown class 1\.5"):
        class_index(target, 1.5, 3)


def test_too_few_rows_is_a_probe_error(digits: Case) -> None:
    ctx = ProbeContext(digits.x[:10], digits.y[:10])
    with pytest.raises(ProbeError, match="at least 20 labelled rows"):
        list(LabelFlipProbe().run(digits.target, ctx))


def _opts(n: int) -> Settings:
    return Settings(tuple(np.linspace(0.01, 0.2, n)), 2000, 0.3, 0.5, 0.2, 0.05)


def test_rates_are_measured_largest_first_then_by_bisection() -> None:
    opts = _opts(5)
    assert next_rate({}, opts) == 4
    assert next_rate({4: True}, opts) == 1  # bisect 0..3
    assert next_rate({4: True, 1: True}, opts) == 0
    assert next_rate({4: True, 1: False}, opts) == 2
    assert next_rate({4: False}, opts) == 0  # nothing compromised: the rest, ascending
    done = dict.fromkeys(range(5), True)
    assert next_rate(done, opts) is None


@pytest.mark.parametrize("cls", [LabelFlipProbe, BackdoorProbe])
def test_declarations_and_trainable_capability(cls: type, digits: Case) -> None:
    assert probe_declaration_problems(cls.name, cls) == []
    assert "trainable" in digits.target.capabilities.names
    assert cls.applies(digits.target.capabilities)
