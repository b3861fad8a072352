"""`redwatch integrity genkey / encrypt / decrypt`: model files encrypted at rest (AES-256-GCM)."""

from __future__ import annotations

from pathlib import Path

import typer

from redwatch.cli.console import err, out
from redwatch.integrity.encryption import (
    decrypt_file,
    encrypt_file,
    generate_key,
    key_file_exposed,
    key_id,
    require_key,
    write_key_file,
)

_KEY_ENV_HELP = "Environment variable holding the key (base64 or hex)."
_KEY_FILE_HELP = "File holding the key (from `redwatch integrity genkey`)."


def register(app: typer.Typer) -> None:
    """Add the encryption commands to the `redwatch integrity` group."""
    app.command("genkey")(genkey)
    app.command("encrypt")(encrypt)
    app.command("decrypt")(decrypt)


def genkey(
    out_file: Path = typer.Option(..., "--out", help="Key file to create (mode 0600)."),
) -> None:
    """Create a random 256-bit key for encrypt/decrypt; never overwrites a file."""
    key = generate_key()
    write_key_file(out_file, key)
    out.print(f"wrote AES-256 key {key_id(key)} to {out_file} (mode 0600); keep it secret")
    out.print(f'use it as --key-file {out_file}, or: export KEY="$(cat {out_file})"; --key-env KEY')


def encrypt(
    file: Path = typer.Argument(..., help="Model file to encrypt."),
    out_file: Path | None = typer.Option(None, "--out", help="Encrypted file (default FILE.enc)."),
    key_env: str | None = typer.Option(None, "--key-env", help=_KEY_ENV_HELP),
    key_file: Path | None = typer.Option(None, "--key-file", help=_KEY_FILE_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite the output file."),
) -> None:
    """Encrypt a model file with AES-256-GCM; redwatch loads the result in memory."""
    key = _key(key_env, key_file)
    dst = out_file or file.with_name(file.name + ".enc")
    header = encrypt_file(file, dst, key, force=force)
    out.print(f"encrypted {file} ({header.size} bytes) -> {dst} with key {header.key_id.hex()}")


def decrypt(
    file: Path = typer.Argument(..., help="Encrypted model file."),
    out_file: Path = typer.Option(..., "--out", help="Plaintext file to write."),
    key_env: str | None = typer.Option(None, "--key-env", help=_KEY_ENV_HELP),
    key_file: Path | None = typer.Option(None, "--key-file", help=_KEY_FILE_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite the output file."),
) -> None:
    """Decrypt a file; nothing is written unless every byte authenticates."""
    key = _key(key_env, key_file)
    header = decrypt_file(file, out_file, key, force=force)
    origin = f" (originally {header.name})" if header.name else ""
    out.print(f"decrypted {file} -> {out_file}{origin}, {header.size} bytes")


def _key(key_env: str | None, key_file: Path | None) -> bytes:
    key = require_key(key_env, key_file)
    if key_file is not None and key_file_exposed(key_file):
        err.print(f"warning: key file {key_file} is readable by other users (chmod 600 it)")
    return key
