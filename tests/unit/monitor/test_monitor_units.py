"""Small pieces of the monitor: PSI, chi² pooling, baselines, settings, label mapping,
label windows, stream alarms and the artifact hash check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_wine

from redwatch.exceptions import UsageError
from redwatch.monitor.baseline import CATEGORICAL, NUMERIC, build_baseline
from redwatch.monitor.drift import chi2_test, psi
from redwatch.monitor.integrity_watch import artifact_sha256, check_hash
from redwatch.monitor.labels import LabelledBuffer, class_index
from redwatch.monitor.streams import StreamWatch
from redwatch.monitor.watch import MonitorSettings


def test_psi_is_zero_for_equal_shares_and_grows_with_a_shift() -> None:
    assert psi(np.array([100, 100, 100]), np.array([10, 10, 10])) == pytest.approx(0.0)
    assert psi(np.array([100, 100, 100]), np.array([30, 0, 0])) > 1.0


def test_chi2_pools_rare_bins_and_finds_a_changed_mix() -> None:
    statistic, p_value = chi2_test(np.array([500, 500, 1]), np.array([50, 50, 0]))
    assert p_value > 0.5
    assert statistic >= 0.0
    assert chi2_test(np.array([500, 500]), np.array([90, 10]))[1] < 1e-6


def test_baseline_kinds_and_feature_choice() -> None:
    x, _ = load_wine(return_X_y=True)
    x = np.column_stack([x, np.arange(len(x)) % 3])
    names = [f"f{i}" for i in range(x.shape[1])]
    baseline = build_baseline(x, names, monitored=["f0", 13])
    assert [(f.name, f.kind) for f in baseline.features] == [("f0", NUMERIC), ("f13", CATEGORICAL)]
    assert baseline.features[0].expected.sum() == pytest.approx(1.0)
    with pytest.raises(UsageError, match="nope"):
        build_baseline(x, names, monitored=["nope"])


def test_settings_reject_a_tiny_window() -> None:
    assert MonitorSettings.from_spec({"window": 200}).label_window == 200
    with pytest.raises(UsageError, match="window"):
        MonitorSettings.from_spec({"window": 3})


def test_labels_map_class_values_and_indices() -> None:
    classes = ("no", "yes")
    assert class_index("yes", classes) == class_index(1, classes) == 1
    assert class_index(np.float64(1.0), (0, 1)) == class_index("1", (0, 1)) == 1
    buffer = LabelledBuffer()
    for when in (3.0, 1.0, 2.0):
        buffer.add(when > 1, None, None, when)
    assert buffer.take(2).times == [1.0, 2.0]
    assert buffer.times == [3.0]


def test_stream_watch_reports_the_means_around_a_jump() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.2, 0.05, 2000), rng.normal(0.6, 0.05, 500)])
    alarms = StreamWatch("score", 0.2, 0.05).update(np.clip(values, 0, 1))
    assert {a.detector for a in alarms} == {"adwin", "page_hinkley"}
    assert min(a.index for a in alarms) > 2000
    assert all(a.mean_before == pytest.approx(0.2, abs=0.02) for a in alarms)
    # ADWIN's mean after is its retained window; Page-Hinkley's the last 30 values
    assert all(a.mean_after > a.mean_before for a in alarms)
    assert [a.mean_after > 0.3 for a in alarms if a.detector == "adwin"] == [True]


def test_hash_check_sees_a_changed_file(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    digest = artifact_sha256(model)
    assert check_hash(model, f"sha256:{digest}").ok
    model.write_bytes(b"weights, tampered")
    changed = check_hash(model, digest)
    assert not changed.ok
    assert changed.actual == artifact_sha256(model)
    model.unlink()
    assert check_hash(model, digest).actual == "missing"
