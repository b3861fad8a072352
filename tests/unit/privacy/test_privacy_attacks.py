"""Shadow models, LiRA, RMIA and the baselines: exact arithmetic on small arrays, and on a
real over-fit model (random forest on breast cancer) every shadow-based attack beats
guessing while a coin does not."""

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from redwatch.exceptions import UsageError
from redwatch.privacy.baselines import calibrated, feature_scale, label_only_scores, loss_scores
from redwatch.privacy.lira import lira_offline, lira_online
from redwatch.privacy.rmia import marginal, rmia_scores, tune_offline_a
from redwatch.privacy.roc import auc
from redwatch.privacy.shadow import (
    half_splits,
    logit_confidence,
    model_outputs,
    train_shadows,
)
from redwatch.privacy.suite import ATTACKS, rounded, score_all
from redwatch.recipe import TrainRecipe


def test_logit_confidence_is_finite_and_exact_near_one() -> None:
    p = np.array([[0.2, 0.8], [1 - 1e-12, 1e-12], [1.0, 0.0], [0.1, 0.6]])
    y = np.array([1, 0, 0, 0])
    s = logit_confidence(p, y)
    assert s[0] == pytest.approx(np.log(4))
    assert s[1] == pytest.approx(np.log((1 - 1e-12) / 1e-12), rel=1e-6)
    assert np.isfinite(s).all()
    assert s[2] > s[1]
    assert s[3] == pytest.approx(np.log(0.1 / 0.6))  # the other classes, not 1 - p


def test_half_splits_put_each_row_in_half_the_models() -> None:
    m = half_splits(8, 1000, np.random.default_rng(0))
    assert (m.sum(axis=0) == 4).all()
    assert np.allclose(m.mean(axis=1), 0.5, atol=0.05)
    with pytest.raises(UsageError):
        half_splits(1, 100, np.random.default_rng(0))


def _gaussian_case(n_models: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Per-example means differ; members score 2 higher (known in / out Gaussians)."""
    rng = np.random.default_rng(seed)
    n = 2000
    base = rng.normal(0, 3, n)
    inside = half_splits(n_models, n, rng)
    shadow = base + 2.0 * inside + rng.normal(0, 1, (n_models, n))
    member = rng.random(n) < 0.5
    target = base + 2.0 * member + rng.normal(0, 1, n)
    return target, shadow, inside, member


@pytest.mark.parametrize("attack", [lira_offline, lira_online])
def test_lira_recovers_members_from_calibrated_gaussians(attack) -> None:  # type: ignore[no-untyped-def]
    target, shadow, inside, member = _gaussian_case(8)
    s = attack(target, shadow, inside)
    assert auc(s[member], s[~member]) > 0.8
    assert auc(target[member], target[~member]) < 0.72  # uncalibrated: per-example noise
    per = attack(target, shadow, inside, global_variance=False)
    assert np.isfinite(per).all()


def test_lira_online_with_per_example_variance_and_many_shadows() -> None:
    target, shadow, inside, member = _gaussian_case(40, seed=1)
    s = lira_online(target, shadow, inside)  # 20 per side: per-example variance
    assert auc(s[member], s[~member]) > 0.8
    with pytest.raises(UsageError):
        lira_online(target[:10], shadow, inside)


def test_rmia_marginal_and_pairwise_share() -> None:
    conf = np.array([[0.9, 0.2], [0.5, 0.4]])
    inside = np.array([[True, False], [False, False]])
    assert np.allclose(marginal(conf, None, None), [0.7, 0.3])
    # offline: out models only, then 0.5 * ((1 + a) * p_out + (1 - a))
    assert np.allclose(
        marginal(conf, inside, 0.5), [0.5 * (1.5 * 0.5 + 0.5), 0.5 * (1.5 * 0.3 + 0.5)]
    )
    score = rmia_scores(
        np.array([0.8, 0.1]),
        np.array([0.4, 0.4]),
        np.array([0.5, 0.2, 0.9]),
        np.array([0.5, 0.5, 0.5]),
    )
    # x0 ratio 2 beats z ratios (1, 0.4, 1.8): share 1; x1 ratio 0.25 beats none
    # (the tie-break adds less than one step of the share, 1/3 here)
    assert 1.0 <= score[0] < 1.0 + 1 / 3
    assert 0.0 <= score[1] < 1 / 3
    with pytest.raises(UsageError):
        marginal(conf, inside, 1.5)


@pytest.fixture(scope="module")
def overfit() -> SimpleNamespace:
    """Unpruned random forest on half of breast cancer, four shadows on halves of it all."""
    x, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    z, ev = order[:100], order[100:]
    pop = np.r_[ev, z]
    xp, yp = x[pop], y[pop]
    member = np.zeros(len(ev), bool)
    member[rng.permutation(len(ev))[: len(x) // 2]] = True
    recipe = TrainRecipe(RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1), 2)
    model = recipe.fit(xp[: len(ev)][member], yp[: len(ev)][member], seed=9)
    conf, logit = model_outputs(recipe, model, xp, yp)
    shadows = train_shadows(recipe, xp, yp, n_models=4, seed=1)
    return SimpleNamespace(
        x=xp,
        y=yp,
        member=member,
        conf=conf,
        logit=logit,
        shadows=shadows,
        recipe=recipe,
        model=model,
        ev=np.arange(len(ev)),
        z=np.arange(len(ev), len(pop)),
    )


def test_every_shadow_attack_beats_guessing_on_an_overfit_forest(overfit: SimpleNamespace) -> None:
    o = overfit
    assert o.shadows.n_models == 4
    assert o.shadows.scores.shape == (4, len(o.x))
    suite = score_all(o.conf, o.logit, o.shadows, o.ev, o.z)
    assert set(suite.scores) == set(ATTACKS)
    assert 0.0 <= suite.rmia_a <= 1.0
    m = o.member
    aucs = {k: auc(s[m], s[~m]) for k, s in suite.scores.items()}
    assert min(aucs[k] for k in ("lira_offline", "rmia_offline", "rmia_online")) > 0.62, aucs
    coin = np.random.default_rng(5).random(len(m))
    assert abs(auc(coin[m], coin[~m]) - 0.5) < 0.08
    r_conf, r_logit, r_shadows = rounded(o.conf, o.shadows, 1)
    assert set(np.unique(r_conf)) <= {round(0.1 * i, 1) for i in range(11)}
    assert np.isfinite(score_all(r_conf, r_logit, r_shadows, o.ev, o.z).scores["lira_online"]).all()


def test_tuned_offline_scaling_is_from_the_grid(overfit: SimpleNamespace) -> None:
    o = overfit
    ev, z = o.shadows.columns(o.ev), o.shadows.columns(o.z)
    a = tune_offline_a(ev.confidence, ev.membership, z.confidence, grid=(0.0, 0.3, 1.0))
    assert a in (0.0, 0.3, 1.0)


def test_train_shadows_stops_early_but_keeps_two(overfit: SimpleNamespace) -> None:
    o = overfit
    calls: list[float] = []
    s = train_shadows(
        o.recipe,
        o.x,
        o.y,
        n_models=6,
        seed=2,
        should_stop=lambda: True,
        progress=lambda f, _m: calls.append(f),
    )
    assert s.n_models == 2
    assert s.membership.shape == (2, len(o.x))
    assert len(calls) == 2


def test_loss_scores_are_the_log_confidence(overfit: SimpleNamespace) -> None:
    o = overfit
    proba = o.recipe.predict_proba(o.model, o.x)
    assert np.allclose(np.exp(loss_scores(proba, o.y)), o.conf)


def test_label_only_scores_separate_an_unpruned_trees_rows() -> None:
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    n = len(x) // 2
    tree = DecisionTreeClassifier(random_state=0).fit(x[:n], y[:n])
    member = np.arange(len(x)) < n
    rng = np.random.default_rng(0)
    s = label_only_scores(tree.predict, x, y, scale=feature_scale(x), rng=rng, draws=4)
    wrong = tree.predict(x) != y
    assert wrong.any()
    assert (s[wrong] == 0).all()
    assert ((s >= 0) & (s <= 1)).all()
    assert auc(s[member], s[~member]) > 0.57  # the tree is perfect on its own rows
    with pytest.raises(UsageError):
        label_only_scores(tree.predict, x, y, scale=feature_scale(x), rng=rng, draws=0)


def test_calibration_subtracts_the_out_models_mean() -> None:
    ref = np.array([[0.5, np.nan], [0.7, 0.2]])
    assert np.allclose(calibrated(np.array([0.9, 0.9]), ref), [0.3, 0.7])
    assert np.allclose(feature_scale(np.array([[1.0, 5.0], [3.0, 5.0]])), [1.0, 1.0])
