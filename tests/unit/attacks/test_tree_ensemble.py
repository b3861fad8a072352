"""TreeEnsemble: predictions identical to the real models, on thresholds too."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from _tree_models import cancer, three_class
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from redwatch.attacks.trees.ensemble import TreeEnsemble, extract


def _models() -> list:
    return [
        DecisionTreeClassifier(max_depth=6, random_state=0),
        RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0),
        ExtraTreesClassifier(n_estimators=8, random_state=0),
        GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0),
        xgb.XGBClassifier(n_estimators=25, max_depth=3, n_jobs=1, random_state=0),
        lgb.LGBMClassifier(n_estimators=25, num_leaves=8, verbose=-1, random_state=0),
    ]


def _rows(ens: TreeEnsemble, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Training rows, rows with one feature set exactly on a threshold, the two values just
    either side of it, and random noise rows."""
    base = x[rng.integers(0, len(x), 1500)].copy()
    feats = [f for f in range(x.shape[1]) if len(ens.thresholds[f])]
    out = [x, rng.normal(size=(1000, x.shape[1])) * x.std(axis=0) + x.mean(axis=0)]
    for shift in ("on", "left", "right"):
        z = base.copy()
        for i in range(len(z)):
            f = feats[rng.integers(len(feats))]
            t = ens.thresholds[f][rng.integers(len(ens.thresholds[f]))]
            if shift == "left":
                t = ens.left_value(np.asarray([t]))[0]
            elif shift == "right":
                t = ens.right_value(np.asarray([t]))[0]
            z[i, f] = t
        out.append(z)
    return np.vstack(out)


@pytest.mark.parametrize("data", ["binary", "multiclass"])
@pytest.mark.parametrize("index", range(6))
def test_predictions_match_the_real_model_exactly(data: str, index: int) -> None:
    if data == "binary":
        x, y, _ = cancer()
    else:
        x, y = three_class()
    model = _models()[index].fit(x, y)
    ens = extract(model)
    assert ens is not None
    z = _rows(ens, x, np.random.default_rng(index))
    assert len(z) > 5000
    np.testing.assert_array_equal(ens.predict(z), np.asarray(model.predict(z)))
    np.testing.assert_array_equal(ens.predict(z), model.predict_proba(z).argmax(axis=1))


def test_threshold_values_go_the_right_way() -> None:
    x, y, _ = cancer()
    for model in (_models()[0], _models()[4], _models()[5]):
        ens = extract(model.fit(x, y))
        assert ens is not None
        for f in range(x.shape[1]):
            t = ens.thresholds[f]
            if not len(t):
                continue
            lv, rv = ens.left_value(t), ens.right_value(t)
            cast_l, cast_r = ens.cast(lv), ens.cast(rv)
            if ens.strict:
                assert np.all(cast_l < t)
                assert np.all(cast_r >= t)
            else:
                assert np.all(cast_l <= t)
                assert np.all(cast_r > t)
            # adjacent representable values: nothing the model could see lies between them
            dtype = np.float32 if ens.float32_inputs else np.float64
            up = np.nextafter(cast_l.astype(dtype), dtype(np.inf))
            np.testing.assert_array_equal(up.astype(np.float64), cast_r)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xgboost_margin_is_bit_exact(seed: int) -> None:
    x, y, _ = cancer()
    model = xgb.XGBClassifier(n_estimators=25, max_depth=3, n_jobs=1, random_state=seed)
    model.fit(x[seed * 50 :], y[seed * 50 :])
    ens = extract(model)
    assert ens is not None
    assert ens.strict
    assert ens.float32_sum
    margin = model.get_booster().predict(xgb.DMatrix(x), output_margin=True)
    np.testing.assert_array_equal(ens.decision(x)[:, 0], margin.astype(np.float64))


def test_raw_boosters_and_structure() -> None:
    x, y, _ = cancer()
    xgb_model = _models()[4].fit(x, y)
    lgb_model = _models()[5].fit(x, y)
    for booster, ref in ((xgb_model.get_booster(), xgb_model), (lgb_model.booster_, lgb_model)):
        ens = extract(booster)
        assert ens is not None
        np.testing.assert_array_equal(ens.predict(x), ref.predict(x))
        assert ens.n_leaves == sum(t.n_leaves for t in ens.trees)
        assert all(np.all(np.diff(t) > 0) for t in ens.thresholds)


def test_unsupported_models_give_none() -> None:
    x, y, _ = cancer()
    assert extract(LogisticRegression(max_iter=200).fit(x[:, :3], y)) is None
    assert extract(object()) is None
    gb = GradientBoostingClassifier(n_estimators=3, init=LogisticRegression()).fit(x[:, :3], y)
    assert extract(gb) is None
