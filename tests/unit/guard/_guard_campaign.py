"""A real red-team campaign for the virtual-patching tests: redwatch's own engine attacks the
digits logistic regression (PGD and Square, seeded) into a temporary SQLite store, so the
findings, their metrics and their evidence files are exactly what a user's scan records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.demo.models import train_digits_logreg
from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.findings import Finding
from redwatch.guard.stage import GuardStage
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.store.repository import Store
from redwatch.targets.detect import from_object
from redwatch.targets.spec import InputSpec

PARAMS = {
    "evasion.pgd": {"samples": 150, "steps": 10},
    "evasion.square": {"samples": 60, "max_queries": 100},
}


@dataclass(frozen=True)
class DigitsCampaign:
    """The stored campaign (id, store URL, report folder), its findings as read back from
    the store, and the model, its spec and data."""

    campaign_id: str
    store_url: str
    report_dir: Path
    findings: list[Finding]
    model: Any
    spec: InputSpec
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def run_digits_campaign(root: Path) -> DigitsCampaign:
    """Scan the digits model with PGD and Square into `root` (store and report folder)."""
    demo = train_digits_logreg(seed=0)
    names = list(demo.feature_names)
    target = from_object(demo.model, name="digits")
    data = Dataset(demo.x_test, demo.y_test, names, "digit", "digits-test")
    url = f"sqlite:///{root / 'rw.db'}"
    options = ScanOptions(
        out_dir=root / "report",
        probes=list(PARAMS),
        params=PARAMS,
        formats=("json",),
        seed=0,
    )
    with Store.open(url) as store:
        result = run_scan(target, target.kind, data, store, options)
        doc = store.get_campaign(result.id)
    assert doc is not None, "the campaign was not stored"
    findings = [Finding.from_dict(f) for f in doc["findings"]]
    assert findings, "the digits campaign found nothing: the patching tests need findings"
    spec = target.capabilities.input_spec
    assert spec is not None
    return DigitsCampaign(
        result.id,
        url,
        root / "report",
        findings,
        demo.model,
        spec,
        demo.x_train,
        demo.x_test,
        demo.y_test,
    )


def guard_stages() -> dict[str, type[GuardStage]]:
    """The built-in stages plus detect and extraction, loaded directly so that the tests do
    not depend on the installed entry points."""
    from redwatch.guard.stages.detect import DetectStage
    from redwatch.guard.stages.extraction import ExtractionStage

    return {**BUILTIN_STAGES, DetectStage.name: DetectStage, ExtractionStage.name: ExtractionStage}
