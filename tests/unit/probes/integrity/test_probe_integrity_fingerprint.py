"""integrity.fingerprint against a real logistic regression: no baseline, unchanged model,
one changed coefficient, a damaged fingerprint file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.exceptions import ProbeError
from redwatch.findings import Severity
from redwatch.integrity.fingerprint import build_fingerprint, save_fingerprint
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.integrity import FingerprintDriftProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.testing.conformance import probe_declaration_problems, run_probe_checked


@pytest.fixture
def setup(tmp_path: Path) -> tuple[SklearnTarget, np.ndarray, np.ndarray, Path]:
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    target = SklearnTarget(model, name="lr")
    path = save_fingerprint(build_fingerprint(target, x, seed=0), tmp_path / "fp.json")
    return target, x, y, path


def test_declarations_conform() -> None:
    assert probe_declaration_problems("integrity.fingerprint", FingerprintDriftProbe) == []


def test_without_a_fingerprint_nothing_is_checked(setup) -> None:  # type: ignore[no-untyped-def]
    target, x, y, _ = setup
    ctx = ProbeContext(x, y)
    before = target.queries
    assert run_probe_checked(FingerprintDriftProbe, target, ctx) == []
    assert ctx.metrics["baseline"] == "none"
    assert target.queries == before


def test_unchanged_model_matches(setup) -> None:  # type: ignore[no-untyped-def]
    target, x, y, path = setup
    ctx = ProbeContext(x, y, Budget(queries=1000), params={"fingerprint": str(path)})
    with target.limit(1000):
        assert run_probe_checked(FingerprintDriftProbe, target, ctx) == []
    assert ctx.metrics["verdict"] == "match"
    assert ctx.metrics["checked"] == 128


def test_changed_coefficient_is_a_high_finding(setup) -> None:  # type: ignore[no-untyped-def]
    target, x, y, path = setup
    target.estimator[-1].coef_[0, 5] *= 1.0005
    ctx = ProbeContext(x, y, params={"fingerprint": str(path)})
    findings = run_probe_checked(FingerprintDriftProbe, target, ctx)
    assert len(findings) == 1
    f = findings[0]
    assert f.severity is Severity.HIGH
    assert f.metrics["moved_boundary"] > 0
    moved = f.evidence[0].data["moved"]
    assert moved[0]["delta"] == max(m["delta"] for m in moved)
    assert all(m["delta"] > m["tolerance"] for m in moved)
    assert ctx.metrics["verdict"] == "drift"


def test_a_damaged_fingerprint_is_a_probe_error(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target, x, y, path = setup
    doc = json.loads(path.read_text())
    doc["canaries"]["inputs"][3][0] = 0.0
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    ctx = ProbeContext(x, y, params={"fingerprint": str(tmp_path / "bad.json")})
    with pytest.raises(ProbeError, match="sha256"):
        list(FingerprintDriftProbe().run(target, ctx))
