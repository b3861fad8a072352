"""Adversarial data augmentation: feasible adversarial rows with their true labels make a
refitted scikit-learn model more robust under the attack that crafted them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from redwatch.exceptions import UsageError
from redwatch.harden.tabular import AugmentConfig, augment_and_refit, craft, refit
from redwatch.targets.spec import InputSpec

EPS = 0.05


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, InputSpec]:
    x, y = make_classification(
        n_samples=900, n_features=6, n_informative=4, n_redundant=0, class_sep=1.0, random_state=0
    )
    x[:, 5] = np.round(x[:, 5] * 3)  # an integer feature
    spec = InputSpec.from_data(x, [f"f{i}" for i in range(6)]).declare(immutable=["f0"])
    return x[:600], y[:600], x[600:], y[600:], spec


def _robust(model: object, x: np.ndarray, y: np.ndarray, spec: InputSpec) -> float:
    """Accuracy under the crafting attack at EPS (rows fooled count as errors)."""
    cfg = AugmentConfig(eps=EPS, seed=1)
    _x_adv, fooled, _ = craft(model, x, y, spec, cfg, np.random.default_rng(1))
    right = np.asarray(model.predict(x)) == y  # type: ignore[attr-defined]
    return float(np.mean(right & ~fooled))


def test_crafted_rows_are_feasible_within_eps_and_fooling() -> None:
    xtr, ytr, _, _, spec = _data()
    model = LogisticRegression(max_iter=1000).fit(xtr, ytr)
    x_adv, fooled, attack = craft(
        model, xtr, ytr, spec, AugmentConfig(eps=EPS), np.random.default_rng(0)
    )
    assert attack == "pgd"
    assert fooled.sum() > 10
    kept = x_adv[fooled]
    assert np.all(model.predict(kept) != ytr[fooled])
    assert np.all(kept[:, 0] == xtr[fooled, 0])  # immutable
    assert np.all(kept[:, 5] == np.round(kept[:, 5]))  # integer
    assert np.all((kept >= spec.lower - 1e-9) & (kept <= spec.upper + 1e-9))
    step = np.abs(kept - xtr[fooled]) / spec.scale
    assert np.all(step[:, :5] <= EPS + 1e-9)  # rounding may move the integer column further


@pytest.mark.parametrize(
    ("model", "attack"),
    [
        (LogisticRegression(max_iter=1000), "pgd"),
        (DecisionTreeClassifier(max_depth=6, random_state=0), None),  # leaf walk or HSJ
    ],
)
def test_augmentation_improves_robust_accuracy(model: object, attack: str | None) -> None:
    xtr, ytr, xte, yte, spec = _data()
    base = refit(model, xtr, ytr)
    hardened, report = augment_and_refit(
        base, xtr, ytr, spec, AugmentConfig(eps=EPS, rounds=3, max_rows=400, seed=0)
    )
    if attack is not None:
        assert report.attack == attack
    assert report.added > 0
    assert type(hardened) is type(base)
    assert hardened is not base
    assert hardened.get_params() == base.get_params()  # type: ignore[attr-defined]
    before, after = _robust(base, xte, yte, spec), _robust(hardened, xte, yte, spec)
    assert after > before
    clean_b = np.mean(base.predict(xte) == yte)  # type: ignore[attr-defined]
    clean_a = np.mean(hardened.predict(xte) == yte)  # type: ignore[attr-defined]
    assert clean_a >= clean_b - 0.05


def test_refit_keeps_label_values() -> None:
    xtr, ytr, _, _, _ = _data()
    names = np.array(["good", "bad"])
    model = LogisticRegression(max_iter=1000).fit(xtr, names[ytr])
    again = refit(model, xtr, 1 - ytr)  # class indices follow classes_ = [bad, good]
    assert list(again.classes_) == ["bad", "good"]
    assert np.mean(again.predict(xtr) == model.predict(xtr)) > 0.99


def test_models_without_sklearn_api_are_refused() -> None:
    xtr, ytr, _, _, spec = _data()
    with pytest.raises(UsageError, match="scikit-learn API"):
        augment_and_refit(object(), xtr, ytr, spec, AugmentConfig())
    with pytest.raises(UsageError):
        AugmentConfig(eps=0).validate()
