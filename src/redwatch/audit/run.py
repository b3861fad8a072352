"""One audit from start to finish: choose the probes (every default one plus the privacy
and fairness ones that are registered), run the campaign into a staging folder, build the
audit document, render it, and publish the folder whole (or leave nothing)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from redwatch.audit.document import AuditScope, build_audit
from redwatch.audit.render import render_all
from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.engine.planner import available_probes
from redwatch.exceptions import UsageError
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.base import Target

AUDIT_PROBES: tuple[str, ...] = (
    "privacy.membership",
    "fairness.groups",
    "privacy.attribute_inference",
    "privacy.model_inversion",
)
RETRAINING_FAMILIES = ("privacy", "poisoning")
RECIPE_KEY = "train_recipe"


@dataclass
class AuditOutcome:
    """What an audit produced: the campaign, the audit document and the files written."""

    result: CampaignResult
    audit: dict[str, Any]
    out_dir: Path
    files: list[Path]


def audit_probes(table: Mapping[str, Any]) -> list[str]:
    """Every default probe, then the audit's privacy and fairness probes that are
    registered (opt-in or not), without repeats."""
    names = [n for n, cls in table.items() if getattr(cls, "default", True)]
    return list(dict.fromkeys([*names, *(n for n in AUDIT_PROBES if n in table)]))


def audit_params(
    table: Mapping[str, Any],
    names: list[str],
    params: Mapping[str, Mapping[str, Any]],
    train_recipe: str | None,
) -> dict[str, dict[str, Any]]:
    """redwatch.yaml's probe options, plus `train_recipe` for every chosen probe that
    retrains the model (it needs the capability `trainable`, or is a privacy or poisoning
    probe); an option the user set in the file wins."""
    merged = {name: dict(opts) for name, opts in params.items()}
    if train_recipe is None:
        return merged
    for name in names:
        cls = table[name]
        retrains = "trainable" in getattr(cls, "requires", ()) or name.startswith(
            RETRAINING_FAMILIES
        )
        if retrains:
            merged.setdefault(name, {}).setdefault(RECIPE_KEY, train_recipe)
    return merged


def check_out_dir(out_dir: Path) -> None:
    """UsageError before any work when the output path is a file or its parent is missing."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a folder")
    if not out_dir.resolve().parent.is_dir():
        raise UsageError(f"--out {out_dir}: parent folder {out_dir.resolve().parent} is missing")


def run_audit(
    target: Target,
    data: Dataset,
    store: Store,
    options: ScanOptions,
    scope: AuditScope,
    progress: Callable[[str], Any] | None = None,
) -> AuditOutcome:
    """Run the campaign and write the audit into options.out_dir: json (the campaign report
    and audit.json), html and pdf as asked in scope.formats. The folder appears whole:
    everything is written to a staging folder beside it, then swapped in."""
    out_dir = options.out_dir
    check_out_dir(out_dir)
    staging = out_dir.resolve().parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        result = run_scan(
            target,
            target.kind,
            data,
            store,
            replace(options, out_dir=staging, formats=("json",)),
            progress=progress,
        )
        audit = build_audit(result, scope, available_probes())
        written = render_all(audit, staging, scope.formats)
        for name, content in written.items():
            (staging / name).write_bytes(content)
        publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return AuditOutcome(result, audit, out_dir, [out_dir / name for name in written])


def publish(staging: Path, out_dir: Path) -> None:
    """Swap the finished staging folder in place of out_dir (an old folder is removed only
    after the new one is in place)."""
    old = None
    if out_dir.exists():
        old = staging.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
