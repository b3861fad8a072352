"""integrity.artifact_scan on real files: a joblib model (safe), a pickle whose REDUCE calls
os.system (unsafe, and its payload never runs), an unknown class (suspicious), a folder."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from redwatch.findings import Severity
from redwatch.probes.base import ProbeContext
from redwatch.probes.integrity import ArtifactScanProbe
from redwatch.probes.integrity.artifact import _from_pickle_report
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.testing.conformance import probe_declaration_problems, run_probe_checked


class _Payload:
    """Pickles as a call to os.system; pickling it does not run anything."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def model() -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    return LogisticRegression(max_iter=3000).fit(x, y), x, y


@pytest.fixture
def target(model: tuple[LogisticRegression, np.ndarray, np.ndarray]) -> SklearnTarget:
    t = SklearnTarget(model[0], name="lr")
    t.mark_artifact()
    return t


def _ctx(
    model: tuple[LogisticRegression, np.ndarray, np.ndarray], artifact: Path | None
) -> ProbeContext:
    return ProbeContext(model[1][:20], model[2][:20], artifact=artifact)


def test_declarations_conform() -> None:
    assert probe_declaration_problems("integrity.artifact_scan", ArtifactScanProbe) == []


def test_safe_joblib_model_gives_no_finding(tmp_path: Path, model, target) -> None:  # type: ignore[no-untyped-def]
    joblib.dump(model[0], tmp_path / "model.joblib")
    ctx = _ctx(model, tmp_path / "model.joblib")
    assert run_probe_checked(ArtifactScanProbe, target, ctx) == []
    assert ctx.metrics["verdict"] == "safe"
    assert ctx.metrics["files"] == 1


def test_code_execution_pickle_is_critical_and_never_runs(tmp_path: Path, model, target) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    ctx = _ctx(model, tmp_path / "model.pkl")
    findings = run_probe_checked(ArtifactScanProbe, target, ctx)
    assert not marker.exists()
    assert len(findings) == 1
    f = findings[0]
    assert f.severity is Severity.CRITICAL
    assert "system" in f.title
    assert set(f.references) == {"AML.T0010.003", "AML.T0011.000", "OWASP-ML06"}
    items = f.evidence[0].data["items"]
    assert any(
        i.get("symbol", "").endswith("system") and i.get("offset") is not None for i in items
    )
    assert ctx.metrics["verdict"] == "unsafe"


def test_unknown_class_is_medium(tmp_path: Path, model, target) -> None:  # type: ignore[no-untyped-def]
    # protocol 2: GLOBAL an importable-looking class outside the allowlist, then NEWOBJ
    raw = b"\x80\x02cacme_models.layers\nCustomLayer\nq\x00)\x81q\x01}q\x02b."
    (tmp_path / "custom.pkl").write_bytes(raw)
    findings = run_probe_checked(ArtifactScanProbe, target, _ctx(model, tmp_path / "custom.pkl"))
    assert [f.severity for f in findings] == [Severity.MEDIUM]
    assert "acme_models.layers.CustomLayer" in findings[0].title


def test_folder_gives_one_finding_per_bad_file(tmp_path: Path, model, target) -> None:  # type: ignore[no-untyped-def]
    joblib.dump(model[0], tmp_path / "good.joblib")
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(_Payload(tmp_path / "x")))
    (tmp_path / "also_bad.pkl").write_bytes(pickle.dumps(_Payload(tmp_path / "y")))
    ctx = _ctx(model, tmp_path)
    findings = run_probe_checked(ArtifactScanProbe, target, ctx)
    assert sorted(Path(f.evidence[0].data["path"]).name for f in findings) == [
        "also_bad.pkl",
        "bad.pkl",
    ]
    assert ctx.metrics["files"] == 3


def test_no_artifact_records_it_and_finds_nothing(model, target) -> None:  # type: ignore[no-untyped-def]
    ctx = _ctx(model, None)
    assert run_probe_checked(ArtifactScanProbe, target, ctx) == []
    assert ctx.metrics["artifact"] == "none"


def test_pickle_scanner_fallback_agrees(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(_Payload(tmp_path / "z")))
    verdict = _from_pickle_report(tmp_path / "model.pkl")
    assert verdict.verdict == "unsafe"
    assert verdict.scanner == "redwatch.integrity.pickle_scan"
    assert any(str(i.get("symbol", "")).endswith("system") for i in verdict.items)
