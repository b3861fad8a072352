"""One scan from start to finish: fit the data to the target, describe its inputs, plan the
probes and run them. Shared by `redwatch scan`, `redwatch demo` and (later) the service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.config import FeatureDecl
from redwatch.engine.data import Dataset, align
from redwatch.engine.executors import make_executor
from redwatch.engine.planner import plan_campaign
from redwatch.engine.runner import CampaignInput, CampaignRunner
from redwatch.exceptions import DataError, RedwatchError, UsageError, first_line
from redwatch.probes.base import Budget
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.base import Target
from redwatch.targets.spec import InputSpec


@dataclass
class ScanOptions:
    """Everything a scan needs besides the target and the data."""

    out_dir: Path
    probes: Sequence[str] | None = None
    budget: Budget = field(default_factory=Budget)
    formats: Sequence[str] = ("json", "html")
    seed: int = 0
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    features: Mapping[str, FeatureDecl] = field(default_factory=dict)
    image_shape: tuple[int, ...] | None = None
    max_rows: int = 2000
    model: str | None = None  # what the user named: a file path, import path or URL
    onehot: Sequence[Sequence[str]] = ()  # groups of 0/1 columns with exactly one 1
    constraints: Sequence[str] = ()  # linear relations, e.g. "amount >= 0"
    config_source: str = "redwatch.yaml"  # named in errors about the declarations
    sensitive: Sequence[str] = ()  # sensitive columns of the CSV (features or side columns)
    executor: str = "local"  # where probes run: "local" (this process) or "ray"
    ray_address: str | None = None  # Ray cluster (host:port, ray://host:port); None: local


def build_spec(data: Dataset, options: ScanOptions) -> InputSpec:
    """InputSpec from the data, refined by the user's declarations. Images get one global
    pixel range so that constant border pixels do not pin the attack."""
    spec = InputSpec.from_data(data.x, data.feature_names, image_shape=options.image_shape)
    if options.image_shape is not None:
        expected = int(np.prod(options.image_shape))
        if expected != data.x.shape[1]:
            raise DataError(
                f"image shape {options.image_shape} needs {expected} columns, data has "
                f"{data.x.shape[1]}"
            )
        lo, hi = float(data.x.min()), float(data.x.max())
        spec = InputSpec(
            spec.feature_names,
            np.full(expected, lo),
            np.full(expected, hi),
            image_shape=options.image_shape,
        )
    spec = _declare(spec, options)
    _check_data(spec, data.x, options.config_source)
    return spec


def _declare(spec: InputSpec, options: ScanOptions) -> InputSpec:
    """Apply redwatch.yaml's feature declarations, one-hot groups and constraints; an unknown
    feature or a bad constraint is a UsageError naming the file and the field."""
    source, decl = options.config_source, options.features
    known = set(spec.feature_names)
    for name in decl:
        if name not in known:
            raise UsageError(f"{source}: features.{name}: unknown feature {name!r}")
    for k, group in enumerate(options.onehot):
        for name in group:
            if name not in known:
                raise UsageError(f"{source}: onehot.{k}: unknown feature {name!r}")
    bounds = {}
    for name, d in decl.items():
        if d.lower is not None or d.upper is not None:
            i = spec.index(name)
            lo = d.lower if d.lower is not None else float(spec.lower[i])
            hi = d.upper if d.upper is not None else float(spec.upper[i])
            bounds[name] = (lo, hi)
    spec = spec.declare(
        bounds=bounds,
        integer=[n for n, d in decl.items() if d.integer],
        immutable=[n for n, d in decl.items() if d.immutable],
        categorical={n: d.categorical for n, d in decl.items() if d.categorical},
        cost={n: d.cost for n, d in decl.items() if d.cost is not None},
    )
    try:
        spec = spec.declare(onehot=options.onehot)
    except UsageError as exc:
        raise UsageError(f"{source}: onehot: {exc}") from None
    for k, text in enumerate(options.constraints):
        try:
            spec = spec.declare(constraints=[text])
        except UsageError as exc:
            raise UsageError(f"{source}: constraints.{k}: {exc}") from None
    return spec


def _check_data(spec: InputSpec, x: np.ndarray, source: str) -> None:
    """DataError when the user's own data breaks a declared one-hot group or constraint."""
    declared = {repr(r.text) for r in spec.relations}
    for what, n in spec.violation_counts(x).items():
        if what in declared or what.startswith("one-hot ("):
            raise DataError(
                f"{n} of {len(x)} rows of the data violate {what} declared in {source}; "
                "fix the declaration or the data"
            )


def prepare_input(target: Target, data: Dataset, options: ScanOptions) -> CampaignInput:
    """Align columns with the model, attach the input spec, encode labels (or take the
    model's own predictions as reference when the data has none), and probe the model once
    so that a data/model mismatch is a clear error before any attack starts. Sensitive
    columns follow the rows through sampling."""
    data = _with_sensitive(data, options.sensitive)
    data = align(data, target.feature_names, target.n_features)
    if len(data.x) > options.max_rows:
        rng = np.random.default_rng(options.seed)
        data = data.take(np.sort(rng.permutation(len(data.x))[: options.max_rows]))
    target.set_input_spec(build_spec(data, options))
    try:
        reference = target.predict(data.x)
    except RedwatchError:
        raise
    except Exception as exc:  # the model library rejected the data
        raise DataError(f"model rejected the data from {data.source}: {first_line(exc)}") from None
    if data.y_raw is None:
        y, from_model = reference, True
    else:
        y, from_model = target.encode_labels(data.y_raw), False
    config = {
        "data": data.source,
        "rows": len(data.x),
        "features": len(data.feature_names),
        "labels": "model predictions" if from_model else data.label,
        "clean_accuracy": float(np.mean(reference == y)),
        "seed": options.seed,
    }
    if options.sensitive:
        config["sensitive"] = list(dict.fromkeys(options.sensitive))
    return CampaignInput(data.x, y, from_model, config, sensitive=dict(data.sensitive))


def _with_sensitive(data: Dataset, names: Sequence[str]) -> Dataset:
    """Only the declared sensitive columns, taken from the side columns load_csv kept or
    else from the feature columns; DataError naming a column the data does not have."""
    side: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(names):
        if name in data.sensitive:
            side[name] = data.sensitive[name]
        elif name in data.feature_names:
            side[name] = data.x[:, data.feature_names.index(name)]
        else:
            cols = ", ".join([*data.feature_names[:20], *data.sensitive][:20])
            raise DataError(f"sensitive column {name!r} not in {data.source} (columns: {cols})")
    return Dataset(data.x, data.y_raw, data.feature_names, data.label, data.source, side)


def run_scan(
    target: Target,
    kind: str,
    data: Dataset,
    store: Store,
    options: ScanOptions,
    progress: Callable[[str], Any] | None = None,
) -> CampaignResult:
    """Prepare, plan and run one campaign; reports land in options.out_dir."""
    executor = make_executor(options.executor, options.ray_address)  # bad options fail first
    inputs = prepare_input(target, data, options)
    if options.model is not None:
        inputs.config["model"] = options.model
        if Path(options.model).is_file():
            inputs.artifact = Path(options.model)
            target.mark_artifact()
    plan = plan_campaign(
        target.capabilities, requested=options.probes, budget=options.budget, params=options.params
    )
    inputs.config.update(
        probes=[p.probe.name for p in plan.probes],
        budget={"queries": options.budget.queries, "seconds": options.budget.seconds},
        capabilities=sorted(target.capabilities.names),
    )
    runner = CampaignRunner(
        store,
        options.out_dir,
        seed=options.seed,
        formats=options.formats,
        progress=progress,
        executor=executor,
    )
    return runner.run(target, kind, inputs, plan)
