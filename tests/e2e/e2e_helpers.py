"""Helpers for the end-to-end tests (a module with a unique name, importable from tests)."""

import os
import shutil
from pathlib import Path

import pytest


def fast_config(path: Path) -> Path:
    """A redwatch.yaml that keeps every probe small."""
    path.write_text(
        "probes:\n"
        "  evasion.pgd: {samples: 30, steps: 10}\n"
        "  evasion.square: {samples: 30, max_queries: 100}\n"
        "  evasion.hopskipjump: {samples: 15, max_queries: 300}\n"
        "  evasion.noise: {samples: 60, draws: 2}\n"
        "  evasion.sensitivity: {samples: 60}\n",
        encoding="utf-8",
    )
    return path


def require_tool(name: str, package: str) -> str:
    """The path of a system program the test needs (installed by scripts/test-services.sh).
    Missing: the test fails under CI and is skipped, naming the Debian package, elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found; run scripts/test-services.sh (Debian package {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
