"""`redwatch harden` from start to finish: load the model and labelled data, split off held-out
rows, harden (adversarial fine-tuning for PyTorch, augmentation and refit for scikit-learn
API models), save the model, re-scan before and after, and write the record.

The output folder appears whole or not at all: everything is built in a temporary sibling
folder, renamed into place once the model is saved, and removed again if the re-scan fails.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.config import FeatureDecl
from redwatch.engine.campaign import ScanOptions, build_spec
from redwatch.engine.data import Dataset, align, load_csv
from redwatch.exceptions import DataError, UsageError
from redwatch.harden.compare import Comparison, compare
from redwatch.harden.record import build_record, markdown, write_json
from redwatch.harden.rescan import rescan
from redwatch.probes.base import Budget
from redwatch.probes.evasion.common import REFERENCE_EPSILON
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.base import Target
from redwatch.targets.detect import from_object
from redwatch.targets.loading import load_target

METHODS = ("pgd-at", "trades", "augment")
Progress = Callable[[str], Any]


@dataclass
class HardenRequest:
    """Everything `redwatch harden` was asked to do."""

    model: str
    data: Path
    out: Path
    label: str | None = None
    method: str | None = None  # None: pgd-at for PyTorch, augment otherwise
    epsilon: float | None = None  # L∞, fraction of the range; None: the reference epsilon
    epochs: int = 3
    rounds: int = 3
    holdout: float = 0.2
    probes: Sequence[str] = ()
    budget: Budget = field(default_factory=Budget)
    seed: int = 0
    name: str | None = None
    trust_model: bool = False
    model_class: str | None = None
    input_shape: tuple[int, ...] | None = None
    decryption_key: bytes | None = None
    features: Mapping[str, FeatureDecl] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    formats: Sequence[str] = ("json", "md")


@dataclass
class HardenOutcome:
    """What a harden run produced."""

    out: Path
    model_path: Path
    comparison: Comparison
    before: CampaignResult
    after: CampaignResult
    record: dict[str, Any]


@dataclass
class _Split:
    train: Dataset
    held_out: Dataset
    y_train: np.ndarray  # class indices


def run_harden(req: HardenRequest, store: Store, progress: Progress | None = None) -> HardenOutcome:
    """Harden, save, re-scan and record; UsageError/DataError/TargetError on bad input,
    with nothing written to req.out."""
    _check_request(req)
    clock = {"start": time.monotonic()}
    target = load_model(req)
    method = _method(req, target)
    split = _split(target, req)
    options = scan_options(req)
    spec = build_spec(split.train, options)
    kind = "image" if spec.is_image else "tabular"
    eps = req.epsilon if req.epsilon is not None else REFERENCE_EPSILON[(kind, "inf")]
    from redwatch.harden.train import harden_model  # torch only when a torch model comes

    req.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{req.out.name}.", dir=req.out.parent))
    try:
        hardened, settings = harden_model(target, split, spec, method, eps, req, progress)
        clock["train"] = time.monotonic()
        save_model(hardened, target, staging, state_dict=req.model_class is not None)
        staging.rename(req.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        return _verify(req, target, hardened, split, options, store, progress, settings, clock)
    except BaseException:
        shutil.rmtree(req.out, ignore_errors=True)
        raise


def scan_options(req: HardenRequest) -> ScanOptions:
    """The before/after re-scan's options (probes, budget, seed, declarations) from a harden
    request; `harden --drop-rows` re-scans with the same."""
    return ScanOptions(
        out_dir=req.out,
        probes=list(req.probes) or None,
        budget=req.budget,
        formats=req.formats,
        seed=req.seed,
        params=req.params,
        features=req.features,
        image_shape=req.input_shape,
    )


def load_model(req: HardenRequest) -> Target:
    """The model to harden, loaded (and scanned first) as the request says."""
    return load_target(
        req.model,
        name=req.name or req.model,
        trust_model=req.trust_model,
        model_class=req.model_class,
        input_shape=req.input_shape,
        decryption_key=req.decryption_key,
    )


def check_common(req: HardenRequest) -> None:
    """Usage problems every harden mode shares and that need no file to be read: an
    endpoint instead of a file, a bad --holdout, an --out that is not a new folder."""
    if req.model.startswith(("http://", "https://")):
        raise UsageError("redwatch harden needs the model file, not an endpoint URL")
    if not 0 < req.holdout < 1:
        raise UsageError(f"--holdout must be between 0 and 1, got {req.holdout}")
    if req.out.exists() and (not req.out.is_dir() or any(req.out.iterdir())):
        raise UsageError(f"--out {req.out} exists and is not empty; choose a new folder")


def _check_request(req: HardenRequest) -> None:
    """Usage problems that need no file to be read."""
    check_common(req)
    if req.method is not None and req.method not in METHODS:
        raise UsageError(f"unknown method {req.method!r}; choose from {', '.join(METHODS)}")


def _method(req: HardenRequest, target: Target) -> str:
    """The requested method, checked against the model kind, or the kind's default."""
    is_torch = target.kind == "torch"
    method = req.method or ("pgd-at" if is_torch else "augment")
    if is_torch and method == "augment":
        raise UsageError("PyTorch models are hardened with --method pgd-at or trades")
    if not is_torch and method != "augment":
        raise UsageError(f"--method {method} needs a PyTorch model; use --method augment")
    if not is_torch and not hasattr(target, "estimator"):
        raise UsageError(
            f"cannot harden a {target.kind} model: augmentation needs a scikit-learn API model "
            "(save XGBoost/LightGBM models as XGBClassifier/LGBMClassifier with joblib)"
        )
    return method


def _split(target: Target, req: HardenRequest) -> _Split:
    """Labelled data aligned with the model, split (seeded, stratified when possible)."""
    if req.label is None:  # checked first: without it every column looks like a feature
        raise DataError(
            f"hardening needs labelled data: pass --label COLUMN (or label: in redwatch.yaml) "
            f"for {req.data}"
        )
    data = align(load_csv(req.data, req.label), target.feature_names, target.n_features)
    if data.y_raw is None:
        raise DataError(f"{req.data} has no label column {req.label!r}")
    y_raw = data.y_raw
    y = target.encode_labels(y_raw)
    n_eval = round(req.holdout * len(y))
    if n_eval < 1 or len(y) - n_eval < 2:
        raise DataError(f"{req.data} has too few rows ({len(y)}) to hold out evaluation rows")
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    strat = y if counts[counts > 0].min() >= 2 and n_eval >= len(counts) else None
    tr, ev = train_test_split(
        np.arange(len(y)), test_size=n_eval, random_state=req.seed, stratify=strat
    )
    tr, ev = np.sort(tr), np.sort(ev)

    def part(rows: np.ndarray) -> Dataset:
        return Dataset(data.x[rows], y_raw[rows], data.feature_names, data.label, str(req.data))

    return _Split(part(tr), part(ev), y[tr])


def save_model(model: Any, target: Target, folder: Path, *, state_dict: bool) -> Path:
    """Write a model in its input's format: torch (TorchScript, a state dict when the input
    was loaded through --model-class, else the full module) as model.pt, everything else with
    joblib as model.joblib. Used by harden and by the IP watermark."""
    if target.kind != "torch":
        import joblib

        path = folder / "model.joblib"
        joblib.dump(model, path)
        return path
    import torch

    path = folder / "model.pt"
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, str(path))
    elif state_dict:
        torch.save(model.state_dict(), path)
    else:
        torch.save(model, path)
    return path


def _verify(
    req: HardenRequest,
    target: Target,
    hardened: Any,
    split: _Split,
    options: ScanOptions,
    store: Store,
    progress: Progress | None,
    settings: dict[str, Any],
    clock: dict[str, float],
) -> HardenOutcome:
    """Re-scan both models, compare, and write harden.json and report.md into req.out."""
    model_path = req.out / ("model.pt" if target.kind == "torch" else "model.joblib")
    after = from_object(hardened, name="after", input_shape=req.input_shape)
    before_result, after_result = rescan(
        (target, after),
        (req.model, str(model_path)),
        split.held_out,
        store,
        options,
        name=req.name or req.model,
        progress=progress,
    )
    comparison = compare(before_result, after_result)
    now = time.monotonic()
    record = build_record(
        model=req.model,
        data=req.data,
        output=str(model_path),
        method=settings,
        split={
            "label": split.train.label,
            "train_rows": len(split.train.x),
            "eval_rows": len(split.held_out.x),
            "holdout": req.holdout,
        },
        timings={
            "harden": clock["train"] - clock["start"],
            "rescan": now - clock["train"],
            "total": now - clock["start"],
        },
        comparison=comparison,
        campaigns={
            "before": before_result.id,
            "after": after_result.id,
            "probes": before_result.config.get("probes", []),
            "budget": before_result.config.get("budget", {}),
            "seed": req.seed,
        },
    )
    write_json(req.out / "harden.json", record)
    report = req.out / "report.md"
    report.write_text(markdown(record, comparison), encoding="utf-8")
    return HardenOutcome(req.out, model_path, comparison, before_result, after_result, record)
