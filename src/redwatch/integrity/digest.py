"""SHA-256 of a file read in 1 MiB chunks: the one digest that model records, registrations,
the scheduler's change detection and the integrity monitor all compare."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (OSError when it cannot be read)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
