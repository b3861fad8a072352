"""Helpers shared by the benchmark scripts: machine description, JSON output, a table."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def load_result(name: str) -> dict[str, Any]:
    """bench/results/<name>.json as a dict (the README tables read these)."""
    return dict(json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8")))


def met(ok: bool) -> str:
    """A goal's verdict as the README tables word it."""
    return "met" if ok else "not met"


def machine_info(packages: tuple[str, ...]) -> dict[str, Any]:
    """Cores, CPU, Python and package versions: the context a timing ratio belongs to."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json (pretty, sorted keys) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Plain fixed-width table on stdout."""
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
