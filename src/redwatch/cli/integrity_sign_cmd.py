"""`redwatch integrity keygen / sign / verify`: OpenSSF model signatures with EC keys.

verify exits 0 when the model matches its signature, 1 when it does not (one line naming the
modified, extra or missing files, or the wrong key), and 2 for usage or unreadable paths.
"""

from __future__ import annotations

from pathlib import Path

import typer

from redwatch.exceptions import SignatureError
from redwatch.integrity.signing import generate_keypair, sign_model, verify_model


def keygen(
    out_dir: Path = typer.Option(..., "--out", help="Folder for private.pem and public.pem."),
) -> None:
    """Create an EC P-256 key pair (PEM); never overwrites existing keys."""
    pair = generate_keypair(out_dir)
    typer.echo(f"private key: {pair.private} (mode 0600, keep it secret)")
    typer.echo(f"public key:  {pair.public} (give this to whoever verifies)")


def sign(
    path: Path = typer.Argument(..., help="Model file or folder to sign."),
    key: Path = typer.Option(..., "--key", help="EC private key (PEM)."),
    signature: Path | None = typer.Option(
        None, "--signature", help="Signature file (default DIR/model.sig or FILE.sig)."
    ),
) -> None:
    """Sign a model file or folder in the OpenSSF model-signing format."""
    written = sign_model(path, key, signature)
    typer.echo(f"signed {path}: signature written to {written}")


def verify(
    path: Path = typer.Argument(..., help="Model file or folder to verify."),
    key: Path = typer.Option(..., "--key", help="EC public key (PEM) of the signer."),
    signature: Path | None = typer.Option(
        None, "--signature", help="Signature file (default DIR/model.sig or FILE.sig)."
    ),
) -> None:
    """Check that a model is exactly what was signed: exit 0 valid, 1 invalid, 2 usage."""
    try:
        result = verify_model(path, key, signature)
    except SignatureError as exc:
        typer.echo(f"redwatch: invalid signature: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"verified {path}: {result.files} file(s) match {result.signature}")


def register(app: typer.Typer) -> None:
    """Add keygen, sign and verify to the `redwatch integrity` group."""
    app.command("keygen")(keygen)
    app.command("sign")(sign)
    app.command("verify")(verify)
