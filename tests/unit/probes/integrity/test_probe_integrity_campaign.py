"""The three integrity probes inside a real campaign run (runner, store, reports): the model
file reaches them as ctx.artifact and their findings and metrics land in the result."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.engine.planner import Plan, PlannedProbe
from redwatch.engine.runner import CampaignInput, CampaignRunner
from redwatch.integrity.fingerprint import build_fingerprint, save_fingerprint
from redwatch.probes.base import Budget
from redwatch.probes.integrity import ArtifactScanProbe, FingerprintDriftProbe, SignatureProbe
from redwatch.store.repository import Store
from redwatch.targets.loading import load_target


@pytest.fixture
def store(tmp_path: Path) -> Iterable[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as s:
        yield s


def test_integrity_probes_in_a_campaign(store: Store, tmp_path: Path) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    joblib.dump(model, tmp_path / "model.joblib")
    fp_target = load_target(str(tmp_path / "model.joblib"))
    save_fingerprint(build_fingerprint(fp_target, x, seed=0), tmp_path / "fp.json")
    # the served model differs from the approved one by one coefficient
    model[-1].coef_[0, 2] *= 1.001
    (tmp_path / "served.pkl").write_bytes(pickle.dumps(model))
    target = load_target(str(tmp_path / "served.pkl"), name="served")
    target.mark_artifact()
    plan = Plan(
        probes=[
            PlannedProbe(ArtifactScanProbe, Budget(queries=10_000)),
            PlannedProbe(SignatureProbe, Budget(queries=10_000)),
            PlannedProbe(
                FingerprintDriftProbe,
                Budget(queries=10_000),
                {"fingerprint": str(tmp_path / "fp.json")},
            ),
        ],
        skipped=[],
    )
    data = CampaignInput(x, y, artifact=tmp_path / "served.pkl")
    runner = CampaignRunner(store, tmp_path / "out", formats=("json",))
    result = runner.run(target, "sklearn", data, plan)
    assert result.status == "completed"
    runs = {r.probe: r for r in result.probes}
    assert {r.status for r in runs.values()} == {"ok"}
    assert runs["integrity.artifact_scan"].metrics["verdict"] == "safe"
    assert runs["integrity.signature"].metrics["signature"] == "unsigned/unchecked"
    assert runs["integrity.fingerprint"].metrics["verdict"] == "drift"
    severities = {f.probe: f.severity.label for f in result.findings}
    assert severities == {"integrity.signature": "low", "integrity.fingerprint": "high"}
    assert runs["integrity.fingerprint"].queries == 128  # one query per canary
