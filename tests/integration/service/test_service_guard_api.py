"""The in-service guard and the policies API on a real XGBoost model (breast cancer, saved
with joblib): predictions answer through the guard like the guard proxy, refusals are its
one-line bodies, events and observations are recorded; policies are created, validated,
activated and planned from a real campaign's findings, and that patch blocks or corrects
recorded adversarial examples sent to /predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from service_harness import Harness, breast_cancer_files, target_spec
from sklearn.datasets import load_breast_cancer
from xgboost import XGBClassifier

from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import load_csv
from redwatch.findings import Finding
from redwatch.guard.replay import load_cases
from redwatch.probes.base import Budget
from redwatch.targets.loading import load_target

API = "/api/v1"
PROBES = ["evasion.square"]
PARAMS = {"evasion.square": {"samples": 80, "max_queries": 200}}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An XGBoost model trained on 400 rows and the whole labelled dataset as data."""
    model = XGBClassifier(n_estimators=30, max_depth=3, random_state=0, n_jobs=1)
    root = tmp_path_factory.mktemp("guard-api")
    return breast_cancer_files(root, {"model": model}, data_from=0)


class Observed:
    """A monitor stand-in that keeps what the guard reports."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def observe(self, target: str, rows: Any, proba: Any, predicted: Any, **kw: Any) -> list[str]:
        self.calls.append({"target": target, "rows": rows, "proba": proba, "predicted": predicted})
        return [str(i) for i in range(len(rows))]


def register(service: Harness, files: dict[str, Path]) -> None:
    spec = target_spec("bc", files["model"], files["data"], probes=PROBES, params=PARAMS)
    answer = service.post(f"{API}/targets", json=spec)
    assert answer.status_code == 201, answer.text


def rows(n: int = 5) -> list[list[float]]:
    x = load_breast_cancer().data
    return [[float(v) for v in row] for row in x[450 : 450 + n]]


def test_predict_answers_through_the_guard(service: Harness, files: dict[str, Path]) -> None:
    register(service, files)
    observed, real = Observed(), service.state.monitor
    service.state.monitor = observed  # type: ignore[assignment]
    try:
        labels = service.post(f"{API}/targets/bc/predict", json={"instances": rows()})
        proba = service.post(f"{API}/targets/bc/predict_proba", json={"instances": rows(3)})
        wide = service.post(f"{API}/targets/bc/predict", json={"instances": [[1.0, 2.0]]})
    finally:
        service.state.monitor = real
    model = joblib.load(files["model"])
    assert labels.status_code == 200
    assert labels.json() == {"labels": model.predict(np.array(rows())).tolist()}
    body = proba.json()
    assert body["classes"] == [0, 1]
    assert np.allclose(body["probabilities"], model.predict_proba(np.array(rows(3))), atol=1e-4)
    assert wide.status_code == 400
    assert wide.json() == {
        "error": "rows have 2 features, the model expects 30",
        "status": 400,
        "stage": "validate",
    }
    assert [len(c["rows"]) for c in observed.calls] == [5, 3]  # answered batches only
    assert observed.calls[0]["proba"] is None
    assert observed.calls[1]["proba"].shape == (3, 2)
    events = service.state.store.list_events(source="bc", limit=100)
    assert any(e["action"] == "block" and e["stage"] == "validate" for e in events)


def test_predict_refusals_are_one_line(service_sqlite: Harness, files: dict[str, Path]) -> None:
    service = service_sqlite
    register(service, files)
    unknown = service.post(f"{API}/targets/nope/predict", json={"instances": rows()})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no registered target nope"}
    bad = service.client.post(
        f"{API}/targets/bc/predict", content=b"{", headers=service.headers("analyst")
    )
    assert bad.status_code == 400
    assert bad.json()["stage"] == "proxy"
    ids = service.post(f"{API}/targets/bc/predict", json={"instances": rows(2), "ids": ["a"]})
    assert ids.status_code == 400
    assert '"ids" has 1 values' in ids.json()["error"]
    viewer = service.post(f"{API}/targets/bc/predict", role="viewer", json={"instances": rows()})
    assert viewer.status_code == 403


def test_policies_are_validated_activated_and_listed(
    service: Harness, files: dict[str, Path]
) -> None:
    register(service, files)
    url = f"{API}/targets/bc/policies"
    bad = service.post(url, json={"document": {"stages": [{"name": "nosuch"}]}})
    assert bad.status_code == 400
    assert "unknown guard stage 'nosuch'" in bad.json()["error"]
    assert service.post(url, json={"yaml": "stages: [\n"}).status_code == 400
    both = service.post(url, json={"yaml": "stages: []", "document": {}})
    assert both.status_code == 422
    text = "stages:\n  - name: output\n    options: {label_only: true}\n"
    made = service.post(url, json={"yaml": text})
    assert made.status_code == 201
    assert made.json()["version"] == 1
    assert not made.json()["active"]
    before = service.post(f"{API}/targets/bc/predict_proba", json={"instances": rows(2)}).json()
    activated = service.post(f"{API}/policies/{made.json()['id']}/activate")
    assert activated.status_code == 200
    assert activated.json()["active"]
    after = service.post(f"{API}/targets/bc/predict_proba", json={"instances": rows(2)}).json()
    assert before["probabilities"] != after["probabilities"]
    assert all(sorted(p) == [0.0, 1.0] for p in after["probabilities"])  # one-hot now
    second = service.post(url, json={"document": {"stages": []}, "activate": True})
    listed = service.get(url).json()
    assert [(p["version"], p["active"]) for p in listed] == [(2, True), (1, False)]
    assert second.json()["id"] == listed[0]["id"]
    assert service.post(f"{API}/policies/999/activate").status_code == 404
    actions = [e["action"] for e in service.get(f"{API}/audit", role="admin").json()]
    assert actions.count("policies.activate") == 2
    assert actions.count("policies.create") == 2


def _scan(service: Harness, files: dict[str, Path], out: Path) -> list[Finding]:
    """A real campaign on the registered target, stored in the service's store."""
    target = load_target(str(files["model"]), name="bc", trust_model=False)
    options = ScanOptions(
        out_dir=out,
        probes=PROBES,
        params=PARAMS,
        budget=Budget(seconds=60),
        formats=("json",),
        seed=0,
    )
    data = load_csv(files["data"], "diagnosis")
    result = run_scan(target, target.kind, data, service.state.store, options)
    assert result.findings, "the campaign found nothing to patch"
    return list(result.findings)


def test_a_policy_from_findings_blocks_replayed_adversarial_examples(
    service_sqlite: Harness, files: dict[str, Path], tmp_path: Path
) -> None:
    service = service_sqlite
    register(service, files)
    findings = _scan(service, files, tmp_path / "report")
    cases, _ = load_cases(findings, tmp_path / "report", 30)
    x_adv = np.concatenate([c.x_adv for c in cases])
    y = np.concatenate([c.y for c in cases])
    unguarded = service.post(f"{API}/targets/bc/predict", json={"instances": x_adv.tolist()})
    assert (np.array(unguarded.json()["labels"]) != y).all()  # they evade the default guard
    planned = service.post(f"{API}/targets/bc/policies/from-findings", json={"activate": True})
    assert planned.status_code == 201, planned.text
    assert "detect" in [s["name"] for s in planned.json()["document"]["stages"]]
    assert set(planned.json()["answered"]) == {f.fingerprint for f in findings}
    stopped = 0
    for row, label in zip(x_adv, y, strict=True):
        answer = service.post(f"{API}/targets/bc/predict", json={"instances": [row.tolist()]})
        blocked = answer.status_code == 422 and answer.json()["stage"] == "detect"
        stopped += blocked or answer.json().get("labels") == [int(label)]
    print(f"patch stopped {stopped} of {len(y)} recorded adversarial examples")
    assert stopped > 0
