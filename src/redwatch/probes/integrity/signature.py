"""Signature probe: is the model file signed by the expected key, and unchanged since?

Without a configured public key nothing can be checked: the probe says so with a LOW finding,
because an unverified model may have been replaced anywhere between approval and serving.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from redwatch.exceptions import ProbeError, RedwatchError, SignatureError
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.probes.base import Probe, ProbeContext
from redwatch.targets.base import Target


class SignatureProbe(Probe):
    """Verify the model artifact's OpenSSF model-signing signature with `public_key`.

    params: `public_key` (PEM path), optional `signature` (default FILE.sig or DIR/model.sig)
    and `path` (the signed file or folder, default the artifact the target was loaded from).
    """

    name: ClassVar[str] = "integrity.signature"
    category: ClassVar[Category] = Category.INTEGRITY
    requires: ClassVar[frozenset[str]] = frozenset({"artifact"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0010.003", "OWASP-ML06")
    cost: ClassVar[int] = 1
    description: ClassVar[str] = "Verify the model's signature against the approver's key"

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """No key: LOW 'not verified'. Key: nothing when valid, a finding when it is not."""
        model = ctx.params.get("path") or ctx.artifact
        key = ctx.params.get("public_key")
        if model is None:
            ctx.metrics.update(signature="no artifact")
            return []
        if not key:
            ctx.metrics.update(signature="unsigned/unchecked")
            return [self._unchecked(target, Path(model))]
        signing = _signing_module()
        if signing is None:
            ctx.metrics.update(signature="unavailable")
            raise ProbeError("signature verification is unavailable: redwatch.integrity.signing")
        sig = _signature_path(signing, Path(model), ctx.params.get("signature"))
        if not sig.exists():
            ctx.metrics.update(signature="missing", signature_path=str(sig))
            return [self._failed(target, Path(model), sig, Severity.HIGH, "no signature found")]
        try:
            signing.require_valid_signature(Path(model), Path(key), sig)
        except SignatureError as exc:
            ctx.metrics.update(signature="invalid", signature_path=str(sig))
            return [self._failed(target, Path(model), sig, Severity.CRITICAL, str(exc))]
        except RedwatchError as exc:  # unreadable key, missing extra: a setup problem
            ctx.metrics.update(signature="error")
            raise ProbeError(f"cannot verify the signature of {model}: {exc}") from None
        ctx.metrics.update(signature="valid", signature_path=str(sig), public_key=str(key))
        return []

    def _unchecked(self, target: Target, model: Path) -> Finding:
        return Finding(
            probe=self.name,
            category=self.category,
            severity=Severity.LOW,
            title="Model signature not verified",
            description=(
                f"No public key was configured for {self.name}, so nothing shows that "
                f"{model} is the model that was approved. Set params.public_key."
            ),
            metrics={"signature": "unsigned/unchecked"},
            mitigations=signature_mitigations(),
            references=self.references,
            target=target.name,
            key="status=unchecked",
        )

    def _failed(
        self, target: Target, model: Path, sig: Path, severity: Severity, reason: str
    ) -> Finding:
        status = "missing" if severity is Severity.HIGH else "invalid"
        title = (
            f"Model {model.name} is not signed"
            if status == "missing"
            else f"Model {model.name} does not match its signature"
        )
        return Finding(
            probe=self.name,
            category=self.category,
            severity=severity,
            title=title,
            description=f"Verifying {model} against {sig} failed: {reason}",
            metrics={"signature": status},
            evidence=[
                Evidence(
                    "signature",
                    "signature verification result",
                    data={"model": str(model), "signature": str(sig), "reason": reason},
                )
            ],
            mitigations=signature_mitigations(),
            references=self.references,
            target=target.name,
            key=f"status={status}",
        )


def signature_mitigations() -> list[Mitigation]:
    """Fixes for a model whose provenance is not established."""
    return [
        Mitigation(
            "process",
            "Sign models at approval and verify them before serving",
            "redwatch integrity sign DIR --key PRIVATE.pem when a model is approved; "
            "redwatch integrity verify (or --require-signature) wherever it is loaded.",
        ),
        Mitigation(
            "setting",
            "Refuse unsigned or badly signed models",
            "Run scans and the guard with --require-signature and the approver's public key.",
        ),
    ]


def _signing_module() -> Any:
    try:
        module = importlib.import_module("redwatch.integrity.signing")
    except ImportError:
        return None
    return module if hasattr(module, "require_valid_signature") else None


def _signature_path(signing: Any, model: Path, given: Any) -> Path:
    if given:
        return Path(str(given))
    if hasattr(signing, "default_signature_path"):
        return Path(signing.default_signature_path(model))
    return model.with_name(model.name + ".sig")
