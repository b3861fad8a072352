"""Ownership certificates: the signed JSON record of one verification (who tested which
suspect, with what evidence, against which null rate, and the verdict) and a readable report.

The certificate is signed with the key derived from the owner's secret, the same key that
signed the commitment, so a third party can check that both come from one holder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redwatch.exceptions import DataError, UsageError
from redwatch.ip.signed import (
    require_signature,
    sha256_hex,
    sign_document,
    write_json_atomic,
    write_text_atomic,
)
from redwatch.ip.stats import OwnershipTest

if TYPE_CHECKING:
    from redwatch.targets.base import Target

CERT_SCHEMA = "redwatch.ip.certificate/v1"
METHODS = ("trigger-set", "api-watermark")
_METHOD_TEXT = {
    "trigger-set": "the secret trigger set committed to at embed time",
    "api-watermark": "the keyed watermark answers recorded by the runtime guard",
}


def build_certificate(
    *,
    method: str,
    suspect: dict[str, Any],
    evidence: dict[str, Any],
    test: OwnershipTest,
    key: bytes,
    issued_at: str | None = None,
) -> dict[str, Any]:
    """The signed certificate of one ownership test."""
    if method not in METHODS:
        raise UsageError(f"unknown certificate method {method!r} (known: {', '.join(METHODS)})")
    doc = {
        "schema": CERT_SCHEMA,
        "method": method,
        "issued_at": issued_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "suspect": {
            "source": str(suspect.get("source", "")),
            "sha256": suspect.get("sha256"),
            "kind": str(suspect.get("kind", "")),
        },
        "evidence": evidence,
        "test": test.to_dict(),
        "claim": _claim(method, test),
    }
    return sign_document(doc, key)


def _claim(method: str, test: OwnershipTest) -> str:
    """One sentence that states what the figures support, and no more."""
    figures = (
        f"{test.agreed} of {test.trials} answers match {_METHOD_TEXT[method]} "
        f"(null rate {test.null.rate:.3g}, p = {test.p_value:.3g})"
    )
    if test.shown:
        return f"The suspect carries the owner's watermark: {figures}."
    return f"Ownership is not shown at alpha {test.alpha:g}: {figures}."


def describe_suspect(target: Target, source: str | None) -> dict[str, Any]:
    """A certificate's suspect block: where it came from, its file digest (None when it is
    not a file), its kind."""
    where = source or target.name
    path = Path(where)
    digest = sha256_hex(path.read_bytes()) if path.is_file() else None
    return {"source": where, "sha256": digest, "kind": target.kind}


def check_certificate(cert: dict[str, Any], public_key: str | None = None) -> None:
    """DataError (one line) unless this is a redwatch certificate whose signature verifies."""
    if not isinstance(cert, dict) or cert.get("schema") != CERT_SCHEMA:
        found = cert.get("schema") if isinstance(cert, dict) else type(cert).__name__
        raise DataError(f"not a {CERT_SCHEMA} document (schema {found!r})")
    require_signature(cert, "certificate", public_key)


def write_certificate(
    cert: dict[str, Any], json_path: Path | None, report_path: Path | None
) -> None:
    """Write the certificate (JSON) and its Markdown report where asked, each whole or not
    at all."""
    if json_path is not None:
        write_json_atomic(json_path, cert)
    if report_path is not None:
        write_text_atomic(report_path, render_report(cert))


def render_report(cert: dict[str, Any]) -> str:
    """A Markdown report of a certificate, for a reader who will not open the JSON."""
    test, suspect, sig = cert["test"], cert["suspect"], cert["signature"]
    null = test["null"]
    lines = [
        "# Ownership verification report",
        "",
        f"**Verdict: {test['verdict']}.** {cert['claim']}",
        "",
        "| | |",
        "|---|---|",
        f"| method | {cert['method']} |",
        f"| issued | {cert['issued_at']} |",
        f"| suspect | `{suspect['source']}` ({suspect['kind'] or 'model'}) |",
        f"| suspect file sha256 | {suspect['sha256'] or 'n/a'} |",
        f"| agreement | {test['agreed']} / {test['trials']} = {test['agreement']:.3f} |",
        f"| null rate | {null['rate']:.4g} ({null['method']}) |",
        f"| p-value | {test['p_value']:.3g} (alpha {test['alpha']:g}) |",
        f"| signer (Ed25519 public key) | `{sig['public_key']}` |",
        "",
        "## How to read this",
        "",
        _reading(cert["method"], null),
        "",
    ]
    lines += _reference_table(null)
    lines += ["## Evidence", "", "```json", _plain(cert["evidence"]), "```", ""]
    return "\n".join(lines)


def _reading(method: str, null: dict[str, Any]) -> str:
    """What the test means, in a paragraph."""
    base = (
        f"The suspect was asked about {_METHOD_TEXT[method]}. A model that never saw the "
        "owner's secret agrees with those answers only by chance; the null rate is how often "
        "such a model agrees, "
    )
    if null["method"] == "reference-models":
        base += (
            f"taken as the largest {null['confidence']:.0%} upper confidence bound over "
            f"{len(null['references'])} independently trained reference models (below). "
        )
    else:
        base += f"fixed by `{null['method']}`. "
    return base + (
        "The p-value is the probability of at least the observed agreement under that rate "
        "(one-sided binomial test)."
    )


def _reference_table(null: dict[str, Any]) -> list[str]:
    """A table of the reference models behind the null rate (nothing when there are none)."""
    refs = null.get("references") or []
    if not refs:
        return []
    rows = [f"| {r['name']} | {r['agreed']} / {r['trials']} |" for r in refs]
    return ["## Reference models", "", "| model | agreement |", "|---|---|", *rows, ""]


def _plain(value: Any) -> str:
    """Indented JSON for the report's evidence block."""
    import json

    return json.dumps(value, indent=1, sort_keys=True)
