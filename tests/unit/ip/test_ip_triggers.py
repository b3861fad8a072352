"""Trigger sets: deterministic from the key, different for another key, regenerated exactly
from the stored parameters, off the data manifold for tables, and never labelled as the
clean model labels them when its answers are given."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from redwatch.demo.datasets import load_credit_default, load_digits_01
from redwatch.exceptions import DataError, UsageError
from redwatch.ip.triggers import derive_triggers, regenerate, trigger_digest

KEY = b"k" * 32
OTHER = b"o" * 32


def _credit() -> np.ndarray:
    x, _ = load_credit_default()
    return x.to_numpy(np.float64)


def test_image_triggers_are_keyed_and_in_range() -> None:
    a = derive_triggers(KEY, kind="image", n_features=64, n_classes=10, n=30)
    b = derive_triggers(KEY, kind="image", n_features=64, n_classes=10, n=30)
    c = derive_triggers(OTHER, kind="image", n_features=64, n_classes=10, n=30)
    assert a.inputs.shape == (30, 64)
    assert a.labels.shape == (30,)
    assert np.array_equal(a.inputs, b.inputs)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.inputs, c.inputs)
    assert trigger_digest(a) == trigger_digest(b) != trigger_digest(c)
    assert a.inputs.min() >= 0.0
    assert a.inputs.max() <= 1.0
    assert a.params["image_shape"] == [1, 8, 8]
    assert len(set(map(bytes, (a.inputs > 0).astype(np.uint8)))) == 30  # all different


def test_image_triggers_are_not_digits() -> None:
    """Triggers sit far from the digits: their nearest digit is farther than digits are
    from each other."""
    x, _ = load_digits_01()
    t = derive_triggers(KEY, kind="image", n_features=64, n_classes=10, n=50)
    tree = cKDTree(x)
    own = tree.query(x, k=2)[0][:, 1]
    assert np.median(tree.query(t.inputs)[0]) > np.quantile(own, 0.9)


def test_regenerate_from_json_params_is_exact() -> None:
    t = derive_triggers(KEY, kind="table", n_features=3, n_classes=2, n=40, reference=_credit())
    params = json.loads(json.dumps(t.params))
    again = regenerate(KEY, params)
    assert np.array_equal(again.inputs, t.inputs)
    assert np.array_equal(again.labels, t.labels)
    assert trigger_digest(again) == trigger_digest(t)
    wrong = regenerate(OTHER, params)
    assert trigger_digest(wrong) != trigger_digest(t)


def test_table_triggers_are_off_manifold_and_in_box() -> None:
    ref = _credit()
    t = derive_triggers(KEY, kind="table", n_features=3, n_classes=2, n=100, reference=ref)
    lo, hi = ref.min(axis=0), ref.max(axis=0)
    assert np.all(t.inputs >= lo)
    assert np.all(t.inputs <= hi)
    assert set(np.unique(t.inputs[:, 0])) <= {0.0, 1.0}  # the integer column stays integer
    scale = hi - lo
    tree = cKDTree(ref / scale)
    own = tree.query(ref[:4000] / scale, k=2)[0][:, 1]
    dist = tree.query(t.inputs / scale)[0]
    assert np.mean(dist > np.quantile(own, 0.99)) >= 0.95


def test_source_labels_are_never_kept() -> None:
    first = derive_triggers(KEY, kind="image", n_features=64, n_classes=10, n=200)
    source = np.arange(200) % 10
    t = derive_triggers(KEY, kind="image", n_features=64, n_classes=10, n=200, source_labels=source)
    assert np.array_equal(t.inputs, first.inputs)
    assert not np.any(t.labels == source)
    assert len(np.unique(t.labels)) == 10
    assert np.array_equal(regenerate(KEY, t.params).labels, t.labels)
    binary = derive_triggers(
        KEY,
        kind="image",
        n_features=64,
        n_classes=2,
        n=20,
        source_labels=np.zeros(20, dtype=np.int64),
    )
    assert np.all(binary.labels == 1)


def test_labels_are_sealed_in_params() -> None:
    """The stored parameters do not give the labels away: the sealed values differ from them
    about as often as chance says (K = 10: 90%)."""
    t = derive_triggers(KEY, kind="image", n_features=64, n_classes=10, n=300)
    sealed = np.asarray(t.params["label_seal"])
    assert 0.8 < np.mean(sealed != t.labels) < 0.97


def test_bad_input_is_one_line_error() -> None:
    with pytest.raises(UsageError, match="kind"):
        derive_triggers(KEY, kind="audio", n_features=4, n_classes=2)
    with pytest.raises(UsageError, match="square"):
        derive_triggers(KEY, kind="image", n_features=50, n_classes=2)
    with pytest.raises(UsageError, match="two classes"):
        derive_triggers(KEY, kind="table", n_features=3, n_classes=1, reference=_credit())
    with pytest.raises(UsageError, match="bounds or reference"):
        derive_triggers(KEY, kind="table", n_features=3, n_classes=2)
    with pytest.raises(UsageError, match="source labels"):
        derive_triggers(
            KEY,
            kind="image",
            n_features=64,
            n_classes=2,
            n=5,
            source_labels=np.array([0, 1, 2, 0, 1]),
        )
    with pytest.raises(DataError, match="generator"):
        regenerate(KEY, {"generator": "other"})
    with pytest.raises(DataError, match="malformed"):
        regenerate(KEY, {"generator": "redwatch.ip.triggers/v1", "kind": "image"})
