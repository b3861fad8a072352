"""`redwatch ip verify`: test a suspect model for the trigger-set watermark that a signed
commitment describes, and write a signed ownership certificate and a readable report
(docs/ip-verify.md).

Exit 0 when ownership is shown, 1 when the test ran and does not show it, 2 for bad input
(wrong key for the commitment, tampered commitment, missing file, model that cannot load).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from redwatch.cli.console import parse_shape
from redwatch.exceptions import UsageError
from redwatch.ip.certificate import write_certificate
from redwatch.ip.commitment import load_commitment
from redwatch.ip.keys import read_key
from redwatch.ip.verify import Verification, verify_ownership
from redwatch.targets.base import Target
from redwatch.targets.loading import load_target


def verify(
    suspect: str = typer.Argument(..., help="Suspect model file (or 'module:attr', or URL)."),
    key_spec: str = typer.Option(..., "--key", help="Owner key: a key file or env:NAME."),
    commitment_path: Path = typer.Option(..., "--commitment", help="Commitment JSON."),
    references: list[str] = typer.Option(
        [], "--reference", help="Independently trained model (repeatable): adds to the null."
    ),
    alpha: float = typer.Option(1e-6, "--alpha", help="Significance level of the claim."),
    confidence: float = typer.Option(
        0.99, "--confidence", help="Confidence of the null rate's upper bound."
    ),
    out_path: Path | None = typer.Option(None, "--out", help="Certificate JSON to write."),
    report_path: Path | None = typer.Option(None, "--report", help="Markdown report to write."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
) -> None:
    """Test a suspect for the committed watermark; exit 0 shown, 1 not shown, 2 bad input."""
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    if not 0.5 <= confidence < 1.0:
        raise UsageError(f"--confidence must be in [0.5, 1), got {confidence}")
    key = read_key(key_spec)
    commitment = load_commitment(commitment_path)
    shape = parse_shape(input_shape)
    target = _load(suspect, trust_model, model_class, shape)
    refs = [_load(ref, trust_model, model_class, shape) for ref in references]
    result = verify_ownership(
        target, commitment, key, references=refs, alpha=alpha, confidence=confidence
    )
    write_certificate(result.certificate, out_path, report_path)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        _print(suspect, result, out_path, report_path)
    if not result.shown:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `verify` to the `redwatch ip` group."""
    app.command("verify")(verify)


def _load(ref: str, trust: bool, model_class: str | None, shape: tuple[int, ...] | None) -> Target:
    """A model through the safe loader (pickles are scanned first)."""
    return load_target(ref, name=ref, trust_model=trust, model_class=model_class, input_shape=shape)


def _print(
    suspect: str, result: Verification, out_path: Path | None, report_path: Path | None
) -> None:
    """The summary line, and where the certificate and report went."""
    evidence = result.certificate["evidence"]
    typer.echo(f"{suspect}: {result.summary()}")
    added = evidence["references"]["added"]
    typer.echo(
        f"  {evidence['trigger']['n']} {evidence['trigger']['kind']} triggers, "
        f"{result.queries} queries; null from {evidence['references']['committed']} committed "
        f"+ {len(added)} added reference model(s)"
    )
    if evidence["suspect_is_committed_file"]:
        typer.echo("  the suspect file is byte-identical to the committed watermarked model")
    for what, path in (("certificate", out_path), ("report", report_path)):
        if path is not None:
            typer.echo(f"  {what} written to {path}")
