"""`redwatch ip`: model IP protection — watermarks, ownership verification, fingerprints.

`keygen` lives here; each other command group registers itself from its own module."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from redwatch.cli.console import err
from redwatch.exceptions import UsageError
from redwatch.ip.keys import generate_key, public_key_hex
from redwatch.ip.signed import write_text_atomic

app = typer.Typer(
    help="Model IP protection: watermarks, ownership proofs, fingerprints.", no_args_is_help=True
)


def keygen(
    out_path: Path = typer.Option(..., "--out", help="Key file to write (refuses to overwrite)."),
) -> None:
    """Write a new 256-bit owner secret (hex) and print its Ed25519 public key."""
    if out_path.exists() or out_path.is_symlink():
        raise UsageError(f"refusing to overwrite existing key file {out_path}")
    secret = generate_key()
    write_text_atomic(out_path, secret + "\n")
    out_path.chmod(0o600)
    typer.echo(f"wrote {out_path} (keep it secret; back it up: losing it loses the proof)")
    typer.echo(f"public key (Ed25519): {public_key_hex(secret.encode('ascii'))}")
    err.print("publish the public key or deposit it with a third party now")


app.command("keygen")(keygen)

for _name in ("ip_watermark_cmd", "ip_verify_cmd", "ip_api_cmd", "ip_fingerprint_cmd"):
    try:
        _part = importlib.import_module(f"redwatch.cli.{_name}")
    except ModuleNotFoundError as _exc:  # pragma: no cover - while parts are being written
        if _exc.name != f"redwatch.cli.{_name}":
            raise
        continue
    _part.register(app)
