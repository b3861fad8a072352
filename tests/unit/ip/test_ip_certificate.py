"""Ownership certificates: signed, honest about their figures, readable."""

from __future__ import annotations

import pytest

from redwatch.exceptions import DataError, UsageError
from redwatch.ip.certificate import build_certificate, check_certificate, render_report
from redwatch.ip.keys import public_key_hex
from redwatch.ip.stats import ReferenceAgreement, estimate_null, ownership_test

KEY = b"owner-secret-0123456789"


def _cert(agreed: int) -> dict[str, object]:
    null = estimate_null([ReferenceAgreement("ref-1", 3, 50), ReferenceAgreement("ref-2", 5, 50)])
    return build_certificate(
        method="trigger-set",
        suspect={"source": "stolen.pt", "sha256": "sha256:ab", "kind": "torch"},
        evidence={"commitment": "sha256:cd", "triggers": 50},
        test=ownership_test(agreed, 50, null),
        key=KEY,
        issued_at="2026-11-22T12:00:00+00:00",
    )


def test_certificate_is_signed_and_states_the_verdict() -> None:
    cert = _cert(49)
    check_certificate(cert, public_key_hex(KEY))
    assert cert["test"]["verdict"] == "ownership shown"  # type: ignore[index]
    assert "49 of 50" in str(cert["claim"])
    assert "carries the owner's watermark" in str(cert["claim"])
    weak = _cert(8)
    assert str(weak["claim"]).startswith("Ownership is not shown")


def test_tampered_or_foreign_certificates_fail() -> None:
    cert = _cert(49)
    cert["test"]["p_value"] = 1e-3  # type: ignore[index]
    with pytest.raises(DataError, match="signature does not verify"):
        check_certificate(cert)
    with pytest.raises(DataError, match=r"not a redwatch\.ip\.certificate/v1"):
        check_certificate({"schema": "other"})
    with pytest.raises(DataError, match="another key"):
        check_certificate(_cert(49), public_key_hex(b"x" * 20))
    with pytest.raises(UsageError, match="unknown certificate method"):
        build_certificate(method="vibes", suspect={}, evidence={}, test=_cert_test(), key=KEY)


def _cert_test():  # type: ignore[no-untyped-def]
    return ownership_test(1, 2, estimate_null([ReferenceAgreement("r", 1, 2)]))


def test_report_shows_every_figure() -> None:
    text = render_report(_cert(49))
    for needle in (
        "Verdict: ownership shown",
        "49 / 50",
        "ref-2",
        "5 / 50",
        "stolen.pt",
        "reference-models",
        "sha256:cd",
        public_key_hex(KEY),
    ):
        assert needle in text
