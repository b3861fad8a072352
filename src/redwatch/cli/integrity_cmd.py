"""`redwatch integrity`: artifact scanning, signing, encryption at rest, fingerprints."""

from __future__ import annotations

import typer

from redwatch.cli import (
    integrity_crypto_cmd,
    integrity_fingerprint_cmd,
    integrity_scan_cmd,
    integrity_sign_cmd,
)

app = typer.Typer(help="Model integrity and supply chain.", no_args_is_help=True)

for _part in (
    integrity_scan_cmd,
    integrity_sign_cmd,
    integrity_crypto_cmd,
    integrity_fingerprint_cmd,
):
    _part.register(app)
