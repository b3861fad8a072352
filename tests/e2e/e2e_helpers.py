"""Helpers for the end-to-end tests (a module with a unique name, importable from tests)."""

from pathlib import Path


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
