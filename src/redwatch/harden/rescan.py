"""The verification half of hardening: one campaign on the original model and one on the
hardened model, with the same probes, budget, seed, options and held-out rows, stored in the
store as "<name>-before" and "<name>-after"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.engine.planner import available_probes
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.base import Target


def default_probes() -> list[str]:
    """Every default evasion probe: what hardening is meant to move."""
    return [n for n, cls in available_probes().items() if cls.default and n.startswith("evasion.")]


def rescan(
    pair: tuple[Target, Target],
    models: tuple[str, str],
    data: Dataset,
    store: Store,
    options: ScanOptions,
    *,
    name: str,
    progress: Callable[[str], Any] | None = None,
) -> tuple[CampaignResult, CampaignResult]:
    """Run the before and after campaigns; reports go to out_dir/scan-before|scan-after.

    `models` are the files each target came from (for artifact probes and the harden
    command in findings); options.probes None means default_probes()."""
    probes: Sequence[str] = options.probes or default_probes()
    results = []
    for target, model, when in zip(pair, models, ("before", "after"), strict=True):
        target.name = f"{name}-{when}"
        opts = replace(
            options, probes=list(probes), model=model, out_dir=report_dir(options.out_dir, when)
        )
        results.append(run_scan(target, target.kind, _copy(data), store, opts, progress=progress))
    return results[0], results[1]


def _copy(data: Dataset) -> Dataset:
    """A fresh Dataset per campaign so nothing one campaign does leaks into the other."""
    y = None if data.y_raw is None else data.y_raw.copy()
    return Dataset(data.x.copy(), y, list(data.feature_names), data.label, data.source)


def report_dir(out: Path, when: str) -> Path:
    """Where the campaign reports of one side land inside the output folder."""
    return out / f"scan-{when}"
