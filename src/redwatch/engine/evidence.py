"""Writes evidence arrays beside the report. Only the engine writes; probes return data."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from redwatch.findings import Finding


def save_evidence(findings: list[Finding], out_dir: Path) -> list[Finding]:
    """Save each evidence item's arrays to `evidence/<fingerprint>/<n>-<kind>.npz` under
    out_dir and return findings whose evidence carries the relative path (arrays dropped).

    Arrays are written with allow_pickle=False semantics (plain numeric .npz) so that the
    evidence itself is safe to open."""
    saved = []
    for finding in findings:
        items = []
        for n, ev in enumerate(finding.evidence):
            if not ev.arrays:
                items.append(ev)
                continue
            rel = Path("evidence") / finding.fingerprint / f"{n}-{ev.kind}.npz"
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            arrays = {k: np.asarray(v, dtype=np.float64) for k, v in ev.arrays.items()}
            np.savez_compressed(dest, **arrays)  # type: ignore[arg-type]
            items.append(replace(ev, arrays={}, path=rel.as_posix()))
        saved.append(replace(finding, evidence=items))
    return saved


def remove_evidence(out_dir: Path, findings: list[Finding]) -> None:
    """Undo save_evidence for a campaign that could not be stored."""
    for finding in findings:
        shutil.rmtree(out_dir / "evidence" / finding.fingerprint, ignore_errors=True)
