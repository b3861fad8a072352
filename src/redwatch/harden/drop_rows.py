"""`redwatch harden --drop-rows QUARANTINE`: retrain the model from scratch without the rows
`redwatch data scan --quarantine` flagged, then re-scan: held-out accuracy and agreement with
the quarantine before and after, the same evasion campaigns and before/after table as the
adversarial harden, and the data-scan detectors on the kept rows.

Like the adversarial harden, the output folder appears whole or not at all: the model is
written into a temporary sibling folder, renamed into place, and removed if the re-scan fails.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.data.flags import merge_reports
from redwatch.data.scan import ScanOptions as DataScanOptions
from redwatch.data.scan import labelled, run_detectors
from redwatch.engine.data import Dataset, align, load_csv
from redwatch.exceptions import DataError, UsageError
from redwatch.harden.compare import Comparison, compare
from redwatch.harden.pipeline import (
    HardenRequest,
    Progress,
    check_common,
    load_model,
    save_model,
    scan_options,
)
from redwatch.harden.record import build_record, markdown, write_json
from redwatch.harden.rescan import rescan
from redwatch.harden.retrain import (
    Figures,
    Quarantine,
    Retrained,
    as_target,
    declare_classes,
    match_quarantine,
    measure,
    retrain,
    split_kept,
)
from redwatch.integrity.digest import sha256_file
from redwatch.ip.signed import write_text_atomic
from redwatch.recipe import TrainRecipe, recipe_for
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.base import Target

DATA_KINDS = ("tabular", "image")


@dataclass
class DropRowsRequest:
    """The harden request (model, data, label, --out, holdout, seed, probes …) plus the
    quarantine file, the data kind for the data re-scan and an optional training function."""

    harden: HardenRequest
    quarantine: Path
    kind: str = "tabular"
    train_recipe: str | None = None


@dataclass
class DropRowsOutcome:
    """What a drop-rows run produced."""

    out: Path
    model_path: Path
    figures: Figures
    comparison: Comparison
    before: CampaignResult
    after: CampaignResult
    record: dict[str, Any]


@dataclass
class _Prepared:
    """Everything known before training: target, recipe, data, row split, data re-scan."""

    target: Target
    recipe: TrainRecipe
    data: Dataset
    y: np.ndarray  # class indices of every data row
    quarantine: Quarantine
    train: np.ndarray
    held_out: np.ndarray
    flagged: int
    detectors: dict[str, int]


def run_drop_rows(
    req: DropRowsRequest, store: Store, progress: Progress | None = None
) -> DropRowsOutcome:
    """Retrain without the quarantine, save, re-scan and record; UsageError/DataError/
    TargetError on bad input, with nothing written to the output folder."""
    h = req.harden
    check_request(req)
    start = time.monotonic()
    prep = _prepare(req)
    h.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{h.out.name}.", dir=h.out.parent))
    try:
        models = retrain(
            prep.recipe,
            (prep.data.x, prep.y),
            (prep.train, prep.quarantine.dropped),
            prep.target.classes,
            h.seed,
        )
        save_model(models.model, prep.target, staging, state_dict=h.model_class is not None)
        staging.rename(h.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    trained = time.monotonic()
    try:
        return _verify(req, prep, models, store, progress, (start, trained))
    except BaseException:
        shutil.rmtree(h.out, ignore_errors=True)
        raise


def check_request(req: DropRowsRequest) -> None:
    """Usage problems that need no file to be read."""
    h = req.harden
    if h.method is not None or h.epsilon is not None:
        raise UsageError("--drop-rows retrains without the quarantine; drop --method/--epsilon")
    if req.kind not in DATA_KINDS:
        raise UsageError(f"unknown --kind {req.kind!r}; choose one of {', '.join(DATA_KINDS)}")
    check_common(h)


def _prepare(req: DropRowsRequest) -> _Prepared:
    """Load the model and data, match the quarantine, split, and scan the kept rows."""
    h = req.harden
    target = load_model(h)
    if h.label is None:
        raise DataError(f"retraining needs labelled data: pass --label COLUMN for {h.data}")
    data = align(load_csv(h.data, h.label), target.feature_names, target.n_features)
    assert data.y_raw is not None
    y = target.encode_labels(data.y_raw)
    declare_classes(target, data.x, y)
    params: dict[str, Any] = {"epochs": h.epochs}
    if req.train_recipe:
        params["train_recipe"] = req.train_recipe
    recipe = recipe_for(target, params)
    quarantine = match_quarantine(h.data, req.quarantine, len(y))
    train, held_out = split_kept(y, quarantine.kept, h.holdout, h.seed)
    flagged, detectors = _data_rescan(data, quarantine.kept, req)
    return _Prepared(target, recipe, data, y, quarantine, train, held_out, flagged, detectors)


def _data_rescan(
    data: Dataset, kept: np.ndarray, req: DropRowsRequest
) -> tuple[int, dict[str, int]]:
    """`redwatch data scan`'s detectors on the kept rows: (rows flagged by any detector,
    rows flagged per detector)."""
    assert data.y_raw is not None
    rows = labelled(data.x[kept], data.y_raw[kept], data.source, str(data.label))
    options = DataScanOptions(
        kind=req.kind, image_shape=req.harden.input_shape, seed=req.harden.seed
    )
    reports = run_detectors(rows, options)
    return len(merge_reports(reports)), {r.name: len(r.flags) for r in reports}


def _verify(
    req: DropRowsRequest,
    prep: _Prepared,
    models: Retrained,
    store: Store,
    progress: Progress | None,
    clock: tuple[float, float],
) -> DropRowsOutcome:
    """Measure both models, run the before/after campaigns, write harden.json and report.md."""
    h = req.harden
    model_path = h.out / ("model.pt" if prep.target.kind == "torch" else "model.joblib")
    after = as_target(models.model, prep.target, models.labels_restored, h.input_shape)
    control = as_target(models.control, prep.target, models.labels_restored, h.input_shape)
    figures = replace(
        measure(
            (prep.target, control, after),
            (prep.data.x, prep.y),
            (prep.held_out, prep.quarantine.dropped),
            len(prep.quarantine.kept),
        ),
        still_flagged=prep.flagged,
        detectors=prep.detectors,
    )
    held = _rows(prep.data, prep.held_out)
    options = scan_options(h)
    before_result, after_result = rescan(
        (prep.target, after),
        (h.model, str(model_path)),
        held,
        store,
        options,
        name=h.name or h.model,
        progress=progress,
    )
    comparison = compare(before_result, after_result)
    sides = (before_result, after_result)
    record = _record(req, prep, str(model_path), figures, comparison, sides, clock)
    record["method"]["labels_restored"] = models.labels_restored
    write_json(h.out / "harden.json", record)
    write_text_atomic(h.out / "report.md", report_markdown(record, comparison, figures))
    return DropRowsOutcome(
        h.out, model_path, figures, comparison, before_result, after_result, record
    )


def _rows(data: Dataset, rows: np.ndarray) -> Dataset:
    """The given rows of the data as their own Dataset."""
    y = None if data.y_raw is None else data.y_raw[rows]
    return Dataset(data.x[rows], y, list(data.feature_names), data.label, data.source)


def _record(
    req: DropRowsRequest,
    prep: _Prepared,
    output: str,
    figures: Figures,
    comparison: Comparison,
    campaigns: tuple[CampaignResult, CampaignResult],
    clock: tuple[float, float],
) -> dict[str, Any]:
    """harden.json: the adversarial harden's fields plus the quarantine and the figures."""
    h = req.harden
    now = time.monotonic()
    method: dict[str, Any] = {
        "name": "drop-rows",
        "recipe": prep.recipe.describe(),
        "quarantine": str(req.quarantine),
        "rows_dropped": len(prep.quarantine.dropped),
        "seed": h.seed,
    }
    if prep.target.kind == "torch":
        method["epochs"] = prep.recipe.epochs
    before, after = campaigns
    record = build_record(
        model=h.model,
        data=h.data,
        output=output,
        method=method,
        split={
            "label": h.label,
            "train_rows": len(prep.train),
            "eval_rows": len(prep.held_out),
            "holdout": h.holdout,
            "kept_rows": len(prep.quarantine.kept),
        },
        timings={"harden": clock[1] - clock[0], "rescan": now - clock[1], "total": now - clock[0]},
        comparison=comparison,
        campaigns={
            "before": before.id,
            "after": after.id,
            "probes": before.config.get("probes", []),
            "budget": before.config.get("budget", {}),
            "seed": h.seed,
        },
    )
    record["quarantine"] = {
        "path": str(req.quarantine),
        "sha256": sha256_file(req.quarantine),
        "rows": len(prep.quarantine.dropped),
    }
    record["drop_rows"] = {**figures.to_dict(), "data_rescan_kind": req.kind}
    return record


def report_markdown(record: dict[str, Any], comparison: Comparison, figures: Figures) -> str:
    """report.md: the adversarial harden's report plus the drop-rows table and verdict."""
    f = figures
    rows = [
        ("held-out accuracy", f.accuracy_before, f.accuracy_control, f.accuracy_after),
        (
            "agreement with the quarantine",
            f.agreement_before,
            f.agreement_control,
            f.agreement_after,
        ),
    ]
    lines = [
        "## Retrained without the quarantine",
        "",
        f"- {figures.quarantined_rows} quarantined rows dropped, {figures.kept_rows} kept",
        f"- verdict: **{figures.verdict}**",
        f"- data scan of the kept rows: {figures.still_flagged} row(s) still flagged "
        f"({', '.join(f'{k}: {v}' for k, v in figures.detectors.items())})",
        "",
        "| metric | before (your model) | control | after |",
        "|---|---:|---:|---:|",
        *(f"| {n} | {b:.1%} | {c:.1%} | {a:.1%} |" for n, b, c, a in rows),
        "",
        "The control is the same recipe and seed trained with the quarantined rows kept; the "
        "verdict compares held-out accuracy with it, because your model may have been trained "
        "on the held-out rows.",
        "",
    ]
    return markdown(record, comparison) + "\n".join(lines)


def summary_lines(outcome: DropRowsOutcome) -> list[str]:
    """What the CLI prints after the before/after table."""
    f = outcome.figures
    return [
        f"held-out accuracy: {f.accuracy_before:.1%} (your model), "
        f"{f.accuracy_control:.1%} (control: retrained with the quarantine), "
        f"{f.accuracy_after:.1%} (retrained without it)",
        f"agreement with the quarantine ({f.quarantined_rows} rows): "
        f"{f.agreement_before:.1%} (your model), {f.agreement_control:.1%} (control), "
        f"{f.agreement_after:.1%} (retrained)",
        f"data scan of the {f.kept_rows} kept rows: {f.still_flagged} still flagged",
        f.verdict,
        f"retrained model: {outcome.model_path}",
        f"record: {outcome.out / 'harden.json'}  report: {outcome.out / 'report.md'}",
    ]
