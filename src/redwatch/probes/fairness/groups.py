"""`fairness.groups`: per sensitive attribute, fairlearn's MetricFrame over the model's
decisions on the campaign rows (selection rate, TPR, FPR, accuracy, count per group), the
demographic-parity and equalized-odds differences and ratios and the four-fifths rule, each
with a stratified bootstrap interval; a finding when a rule fails beyond its interval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from redwatch.exceptions import DataError, ProbeError
from redwatch.fairness.assess import Settings, assess
from redwatch.fairness.groups import make_groups
from redwatch.fairness.proxies import top_proxies
from redwatch.findings import Category, Finding
from redwatch.probes.base import Probe, ProbeContext
from redwatch.probes.fairness.finding import REFERENCES, headline, unfair_finding
from redwatch.targets.base import Target

SKIPPED = "no sensitive column declared (--sensitive COL)"


class FairnessProbe(Probe):
    """Group fairness of the target's decisions for each `--sensitive` column; params
    `favourable`, `bootstrap`, `bins`, `min_group`, `four_fifths`, `max_eo_difference`."""

    name: ClassVar[str] = "fairness.groups"
    category: ClassVar[Category] = Category.FAIRNESS
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = REFERENCES
    description: ClassVar[str] = (
        "Group fairness per sensitive column: demographic parity, equalized odds, four-fifths"
    )
    needs_labels: ClassVar[bool] = True

    def run(self, target: Target, ctx: ProbeContext) -> Iterable[Finding]:
        """Predict once (metered), assess every attribute, record tables, judge."""
        if not ctx.sensitive:
            ctx.metrics["skipped"] = SKIPPED
            return []
        settings = settings_from(ctx.params, ctx.seed)
        favourable, shown = favourable_class(target, ctx.params.get("favourable"))
        y_true = np.asarray(ctx.y, dtype=np.int64)
        ctx.progress(0.05, f"fairness: predicting {len(ctx.x)} rows")
        y_pred = np.asarray(target.predict(ctx.x), dtype=np.int64)
        ctx.metrics.update(
            favourable=shown, rows=len(y_true), bootstrap=settings.bootstrap, attributes={}
        )
        results = []
        for k, (column, values) in enumerate(ctx.sensitive.items()):
            ctx.progress(0.1 + 0.9 * k / len(ctx.sensitive), f"fairness: {column}")
            result = assess(column, np.asarray(values), y_true, y_pred, favourable, settings)
            block = headline(result, settings)
            block["proxies"] = proxies(target, ctx.x, np.asarray(values), settings.bins)
            ctx.metrics["attributes"][column] = block
            results.append((result, block))
        return [
            unfair_finding(self, target, result, settings, shown, block)
            for result, block in results
            if result.unfair
        ]


def proxies(target: Target, x: np.ndarray, values: np.ndarray, bins: int) -> list[dict[str, Any]]:
    """The model inputs most associated with the attribute's groups."""
    spec = target.capabilities.input_spec
    names = list(spec.feature_names) if spec is not None else [f"x{i}" for i in range(x.shape[1])]
    return top_proxies(x, make_groups(values, bins).codes, names)


def settings_from(params: Mapping[str, Any], seed: int) -> Settings:
    """Validated probe parameters; ProbeError naming a bad one."""
    try:
        settings = Settings(
            bootstrap=int(params.get("bootstrap", 200)),
            bins=int(params.get("bins", 4)),
            min_group=int(params.get("min_group", 30)),
            four_fifths=float(params.get("four_fifths", 0.8)),
            max_eo_difference=float(params.get("max_eo_difference", 0.1)),
            seed=seed,
        )
    except (TypeError, ValueError) as exc:
        raise ProbeError(f"fairness.groups: bad parameter ({exc})") from None
    checks = {
        "bootstrap must be at least 20": settings.bootstrap >= 20,
        "bins must be at least 2": settings.bins >= 2,
        "min_group must be at least 1": settings.min_group >= 1,
        "four_fifths must be in (0, 1]": 0.0 < settings.four_fifths <= 1.0,
        "max_eo_difference must be in [0, 1)": 0.0 <= settings.max_eo_difference < 1.0,
    }
    for message, ok in checks.items():
        if not ok:
            raise ProbeError(f"fairness.groups: {message}")
    return settings


def favourable_class(target: Target, value: Any) -> tuple[int, str]:
    """Class index of the favourable outcome and how to show it: a label of the model's
    own classes (e.g. "no" for "deny") or an index; default the second class."""
    n_classes = target.capabilities.n_classes
    if value is None:
        index = 1
    elif target.classes is not None:
        try:
            index = int(target.encode_labels(np.asarray([value]))[0])
        except DataError as exc:
            raise ProbeError(f"fairness.groups: favourable: {exc}") from None
    else:
        index = _index(value)
    if n_classes is not None and not 0 <= index < n_classes:
        raise ProbeError(f"fairness.groups: favourable class {value!r} is not one of {n_classes}")
    shown = index if target.classes is None else target.classes[index]
    return index, str(shown.item() if isinstance(shown, np.generic) else shown)


def _index(value: Any) -> int:
    """A class index given as a number; ProbeError otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ProbeError(f"fairness.groups: favourable {value!r} is not a class index") from None
    if not number.is_integer():
        raise ProbeError(f"fairness.groups: favourable {value!r} is not a class index")
    return int(number)
