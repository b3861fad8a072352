"""`redwatch data scan` without the CLI: read a labelled CSV, run the detectors (label
errors, duplicates, out-of-distribution rows; backdoors for images), merge their flags."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.data.duplicates import detect_duplicates
from redwatch.data.flags import DetectorReport, RowFlag, merge_reports
from redwatch.data.label_errors import DEFAULT_FOLDS, check_labels, detect_label_errors
from redwatch.data.ood import DEFAULT_FPR, detect_ood
from redwatch.data.user_model import UserModel, load_user_model
from redwatch.engine.data import load_csv
from redwatch.exceptions import DataError, UsageError

KINDS = ("tabular", "image", "interactions")


@dataclass(frozen=True)
class ScanOptions:
    """What to run: data kind, image shape (images only), seed and detector settings."""

    kind: str = "tabular"
    image_shape: tuple[int, ...] | None = None
    seed: int = 0
    learner: str = "auto"  # label errors: a CNN mix for images, ensemble for tables
    folds: int = DEFAULT_FOLDS
    ood_fpr: float = DEFAULT_FPR
    model: str | None = None
    trust_model: bool = False
    model_class: str | None = None


@dataclass(frozen=True)
class LabelledData:
    """Features, labels as class indices, the class names and where they came from."""

    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    source: str
    label: str


@dataclass(frozen=True)
class ScanResult:
    """Every detector's report and the merged flags (one per row, in row order)."""

    source: str
    label: str
    rows: int
    kind: str
    reports: tuple[DetectorReport, ...]
    flagged: list[RowFlag] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Plain-JSON summary: rows, flagged count, per-detector counts and metrics."""
        return {
            "data": self.source,
            "label": self.label,
            "kind": self.kind,
            "rows": self.rows,
            "flagged": len(self.flagged),
            "detectors": {r.name: {"flagged": len(r.flags), **r.metrics} for r in self.reports},
        }

    def to_dict(self) -> dict[str, Any]:
        """The `--json` document: flagged rows (most suspicious first) and the summary."""
        ranked = sorted(self.flagged, key=lambda f: (-f.score, f.row))
        return {"flagged": [f.to_dict() for f in ranked], "summary": self.summary()}


def load_labelled(path: str | Path, label: str) -> LabelledData:
    """Read the CSV (one-line DataError on any problem) and encode the label column."""
    data = load_csv(path, label)
    assert data.y_raw is not None
    return labelled(data.x, data.y_raw, data.source, label)


def labelled(x: np.ndarray, y_raw: np.ndarray, source: str, label: str) -> LabelledData:
    """Rows with their raw labels encoded as class indices (sorted label values; mixed types
    compare as text)."""
    try:
        names, y = np.unique(y_raw, return_inverse=True)
    except TypeError:
        names, y = np.unique(y_raw.astype(str), return_inverse=True)
    return LabelledData(x, y.ravel().astype(int), [str(n) for n in names], source, label)


def run_detectors(data: LabelledData, options: ScanOptions) -> tuple[DetectorReport, ...]:
    """Every detector that applies to this kind of data, in a fixed order."""
    if options.kind not in KINDS:
        raise UsageError(f"unknown --kind {options.kind!r}; choose one of {', '.join(KINDS)}")
    check_labels(data.y, data.class_names, options.folds)
    shape = _image_shape(data.x, options) if options.kind == "image" else None
    user = _user_model(options, shape)
    reports = [
        detect_label_errors(
            data.x,
            data.y,
            data.class_names,
            learner=options.learner,
            folds=options.folds,
            seed=options.seed,
            model=None if user is None or (user.is_torch and shape) else user.raw,
            input_shape=shape,
            standardize=shape is None,
        ),
        detect_duplicates(data.x, data.y, data.class_names),
        detect_ood(data.x, fpr=options.ood_fpr, seed=options.seed),
    ]
    if shape is not None:
        model = user.raw if user is not None and user.is_torch else None
        reports.append(_backdoor(data, shape, options.seed, model))
    return tuple(reports)


def _user_model(options: ScanOptions, shape: tuple[int, ...] | None) -> UserModel | None:
    """--model, loaded safely: label errors retrain it per fold (a PyTorch module on images
    gives the backdoor detector its representations instead)."""
    if options.model is None:
        return None
    return load_user_model(
        options.model,
        trust_model=options.trust_model,
        model_class=options.model_class,
        input_shape=shape,
    )


def scan_file(path: str | Path, label: str | None, options: ScanOptions) -> ScanResult:
    """Load, check and scan one labelled CSV (interactions: `label` names the rating
    column, default `rating`)."""
    if options.kind == "interactions":
        return _scan_interactions(path, label, options)
    if label is None:
        raise UsageError(f"--label is required for --kind {options.kind}")
    data = load_labelled(path, label)
    reports = run_detectors(data, options)
    return ScanResult(
        data.source, label, len(data.y), options.kind, reports, merge_reports(reports)
    )


def _scan_interactions(path: str | Path, rating: str | None, options: ScanOptions) -> ScanResult:
    """The shilling detector on a (user, item, rating, timestamp) CSV; every row of a
    flagged account is a flagged row."""
    from redwatch.data.interactions import load_interactions
    from redwatch.data.shilling import ShillingOptions, detect_shilling

    data = load_interactions(path, rating)
    report = detect_shilling(data, ShillingOptions(seed=options.seed))
    return ScanResult(
        data.source, data.rating_column, data.rows, options.kind, (report,), list(report.flags)
    )


def _image_shape(x: np.ndarray, options: ScanOptions) -> tuple[int, ...]:
    """The given image shape (checked against the column count) or a square 1xSxS."""
    shape = options.image_shape
    if shape is None:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise UsageError(
                f"{x.shape[1]} feature columns are not a square image; pass --image-shape"
            )
        shape = (1, side, side)
    if math.prod(shape) != x.shape[1]:
        raise DataError(
            f"--image-shape {','.join(map(str, shape))} needs {math.prod(shape)} feature "
            f"columns, the data has {x.shape[1]}"
        )
    return shape


def _backdoor(
    data: LabelledData, shape: tuple[int, ...], seed: int, model: Any = None
) -> DetectorReport:
    """The backdoor detector, imported only for image scans (it needs torch); `model` is
    the user's PyTorch module, whose penultimate layer replaces our own CNN's."""
    try:
        from redwatch.data.backdoor import detect_backdoor
    except ImportError as exc:
        raise UsageError(f"the backdoor detector is not available: {exc}") from None
    report: DetectorReport = detect_backdoor(
        data.x, data.y, image_shape=shape, seed=seed, model=model
    )
    return report
