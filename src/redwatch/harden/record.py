"""The record of how a hardened model was made (harden.json) and its human summary
(report.md): inputs with their SHA-256, method and settings, library versions, timings, the
before/after table and the ids of both campaigns."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from redwatch import __version__
from redwatch.findings import jsonable
from redwatch.harden.compare import Comparison
from redwatch.integrity.digest import sha256_file

RECORD_VERSION = "1.0"
_LIBRARIES = ("numpy", "scikit-learn", "torch", "xgboost", "lightgbm", "scipy")


def library_versions() -> dict[str, str]:
    """Python, redwatch and the installed ML libraries that a hardened model depends on."""
    out = {"python": platform.python_version(), "redwatch": __version__}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def build_record(
    *,
    model: str,
    data: Path,
    output: str,
    method: Mapping[str, Any],
    split: Mapping[str, Any],
    timings: Mapping[str, float],
    comparison: Comparison,
    campaigns: Mapping[str, Any],
) -> dict[str, Any]:
    """The harden.json document."""
    model_path = Path(model)
    return {
        "record_version": RECORD_VERSION,
        "input_model": {
            "path": model,
            "sha256": sha256_file(model_path) if model_path.is_file() else None,
        },
        "data": {"path": str(data), "sha256": sha256_file(data), **split},
        "output_model": output,
        "method": dict(method),
        "versions": library_versions(),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "comparison": comparison.to_dict(),
        "campaigns": dict(campaigns),
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write JSON atomically (temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(jsonable(dict(document)), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _change(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f} pts"


def markdown(record: Mapping[str, Any], comparison: Comparison) -> str:
    """report.md: what was done, the verdict and the before/after table."""
    method = record["method"]
    settings = ", ".join(f"{k}={v}" for k, v in method.items() if k != "name")
    lines = [
        f"# Hardening report: {record['input_model']['path']}",
        "",
        f"- method: **{method['name']}** ({settings})",
        f"- data: {record['data']['path']} (sha256 {record['data']['sha256'][:16]}…), "
        f"{record['data'].get('train_rows')} training / "
        f"{record['data'].get('eval_rows')} held-out rows",
        f"- hardened model: {record['output_model']}",
        f"- campaigns: before {record['campaigns'].get('before')}, "
        f"after {record['campaigns'].get('after')}",
        f"- verdict: **{comparison.verdict}**",
        "",
        "| metric | before | after | change |",
        "|---|---:|---:|---:|",
    ]
    for row in comparison.rows:
        mark = " (reference)" if row.reference else ""
        lines.append(
            f"| {row.label}{mark} | {_pct(row.before)} | {_pct(row.after)} | "
            f"{_change(row.change)} |"
        )
    lines += [
        "",
        "Robustness is measured by redwatch's evasion probes at the listed epsilons on the "
        "held-out rows; it is an empirical measurement, not a certificate.",
        "",
    ]
    return "\n".join(lines)
