"""integrity.signature with real OpenSSF model-signing signatures: no key configured, valid,
tampered, unsigned, signed with another key, unreadable key."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import ProbeError
from redwatch.findings import Severity
from redwatch.integrity.signing import generate_keypair, sign_model
from redwatch.probes.base import ProbeContext
from redwatch.probes.integrity import SignatureProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.testing.conformance import probe_declaration_problems, run_probe_checked


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("signed")
    x, y = load_breast_cancer(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=3000).fit(x, y), root / "model.joblib")
    keys = generate_keypair(root / "keys")
    other = generate_keypair(root / "other")
    sig = sign_model(root / "model.joblib", keys.private)
    return {
        "model": root / "model.joblib",
        "sig": sig,
        "public": keys.public,
        "other": other.public,
    }


@pytest.fixture
def target(signed: dict[str, Path]) -> SklearnTarget:
    t = SklearnTarget(joblib.load(signed["model"]), name="lr")
    t.mark_artifact()
    return t


def _ctx(artifact: Path, **params: object) -> ProbeContext:
    return ProbeContext(np.zeros((1, 30)), np.zeros(1, dtype=int), artifact=artifact, params=params)


def test_declarations_conform() -> None:
    assert probe_declaration_problems("integrity.signature", SignatureProbe) == []


def test_no_key_is_a_low_finding(signed, target) -> None:  # type: ignore[no-untyped-def]
    ctx = _ctx(signed["model"])
    findings = run_probe_checked(SignatureProbe, target, ctx)
    assert [(f.severity, f.title) for f in findings] == [
        (Severity.LOW, "Model signature not verified")
    ]
    assert ctx.metrics["signature"] == "unsigned/unchecked"


def test_valid_signature_gives_no_finding(signed, target) -> None:  # type: ignore[no-untyped-def]
    ctx = _ctx(signed["model"], public_key=str(signed["public"]))
    assert run_probe_checked(SignatureProbe, target, ctx) == []
    assert ctx.metrics["signature"] == "valid"


def test_wrong_key_is_critical(signed, target) -> None:  # type: ignore[no-untyped-def]
    ctx = _ctx(signed["model"], public_key=str(signed["other"]))
    findings = run_probe_checked(SignatureProbe, target, ctx)
    assert [f.severity for f in findings] == [Severity.CRITICAL]
    assert ctx.metrics["signature"] == "invalid"


def test_tampered_copy_is_critical_and_unsigned_copy_is_high(
    signed, target, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "model.joblib"
    copy.write_bytes(signed["model"].read_bytes() + b"\0")
    (tmp_path / "model.joblib.sig").write_bytes(signed["sig"].read_bytes())
    ctx = _ctx(copy, public_key=str(signed["public"]))
    findings = run_probe_checked(SignatureProbe, target, ctx)
    assert [f.severity for f in findings] == [Severity.CRITICAL]
    assert "does not match" in findings[0].title
    (tmp_path / "model.joblib.sig").unlink()
    ctx = _ctx(copy, public_key=str(signed["public"]))
    findings = run_probe_checked(SignatureProbe, target, ctx)
    assert [f.severity for f in findings] == [Severity.HIGH]
    assert ctx.metrics["signature"] == "missing"


def test_missing_key_file_is_a_probe_error(signed, target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = _ctx(signed["model"], public_key=str(tmp_path / "nope.pem"))
    with pytest.raises(ProbeError, match="cannot verify"):
        list(SignatureProbe().run(target, ctx))
    assert ctx.metrics["signature"] == "error"
