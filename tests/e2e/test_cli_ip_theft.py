"""The theft story of issue 9 end to end, through the real console scripts: the demo digits
model behind `redwatch guard --model` (extraction detection and the keyed API watermark,
events into a SQLite store) is copied by a Knockoff-style thief over HTTP with an API key;
the extraction is alerted on, and `redwatch ip verify-api` proves the stolen surrogate ours
with a signed certificate while an independently trained model is not claimed."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from redwatch.attacks.extraction import knockoff_queries
from redwatch.demo.datasets import load_mnist_8x8
from redwatch.demo.models import train_digits_logreg
from redwatch.guard.keys import generate_api_key
from redwatch.ip.certificate import check_certificate
from redwatch.ip.keys import generate_key, public_key_hex, read_key
from redwatch.store.repository import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from guard_process import GuardProcess

pytestmark = pytest.mark.e2e

QUERIES = 10_000
BATCH = 250


def _policy(path: Path, entry: dict[str, Any]) -> Path:
    """auth (the thief is a paying customer), extraction (report only), the watermark
    (listed before output, so it has the last word) and output rounding; JSON is YAML."""
    stages = [
        {"name": "auth", "options": {"keys": [entry]}},
        {"name": "extraction", "options": {"action": "event"}},
        {"name": "watermark", "options": {"rate": 0.005}},
        {"name": "output", "options": {"decimals": 4}},
    ]
    path.write_text(json.dumps({"version": 1, "stages": stages}), encoding="utf-8")
    return path


def _predict(url: str, rows: np.ndarray, api_key: str) -> list[int]:
    """One /predict call with the API key; the labels served."""
    body = json.dumps({"instances": rows.tolist()}).encode()
    headers = {"Content-Type": "application/json", "X-API-Key": api_key}
    request = urllib.request.Request(f"{url}/predict", body, headers)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return [int(v) for v in json.loads(answer.read())["labels"]]


def _thief_queries() -> np.ndarray:
    """Knockoff traffic: MNIST digits of another distribution, reused with a little noise
    once the 5,000 transfer rows run out (so every query is a new row)."""
    rng = np.random.default_rng(0)
    rows = knockoff_queries(load_mnist_8x8(), QUERIES, rng=rng)
    return np.asarray(np.clip(rows + rng.normal(0.0, 0.02, rows.shape), 0.0, 1.0))


def _steal(url: str, api_key: str) -> tuple[np.ndarray, np.ndarray]:
    """The thief's transfer set: its queries and the API's answers."""
    queries = _thief_queries()
    answers = [_predict(url, batch, api_key) for batch in np.array_split(queries, QUERIES // BATCH)]
    return queries, np.concatenate(answers)


@pytest.mark.slow
def test_stolen_surrogate_is_alerted_and_proven_ours(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 9's "Done when": extracted, alerted on, proven ours; the innocent is not claimed."""
    demo = train_digits_logreg(seed=0)
    model, data = tmp_path / "digits.joblib", tmp_path / "digits.csv"
    joblib.dump(demo.model, model)
    pd.DataFrame(demo.x_train, columns=list(demo.feature_names)).to_csv(data, index=False)
    key_file = tmp_path / "owner.key"
    key_file.write_text(generate_key() + "\n", encoding="utf-8")
    api_key, entry = generate_api_key("thief", "scores")
    db = f"sqlite:///{tmp_path / 'events.db'}"

    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env["REDWATCH_WATERMARK_KEY"] = read_key(str(key_file)).decode("utf-8")
    env.pop("REDWATCH_DB_URL", None)
    policy = _policy(tmp_path / "policy.yaml", entry)
    args = ["--model", str(model), "--data", str(data), "--policy", str(policy), "--port", "0"]
    guard = GuardProcess([*args, "--db", db], tmp_path, env)
    try:
        queries, answers = _steal(guard.ready_url(), api_key)
        assert guard.stop() == 0, guard.stderr()
    finally:
        guard.shutdown()
    assert "Traceback" not in guard.stderr()

    # The alert: the extraction stage named the thief's key while it was stealing.
    with Store.open(db) as store:
        flags = store.list_events(kind="extraction", limit=100)
        marks = store.list_events(kind="watermark", limit=1000)
    thief = [e for e in flags if any(c.startswith("key:thief:") for c in e["data"]["clients"])]
    assert thief, f"no extraction event names the thief: {flags}"
    assert marks, "the watermark stage recorded nothing"

    # The thief's surrogate, and a model its makers trained without the API.
    stolen, innocent = tmp_path / "surrogate.joblib", tmp_path / "independent.joblib"
    forest = RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=1)
    joblib.dump(forest.fit(queries, answers), stolen)
    forest = RandomForestClassifier(n_estimators=60, random_state=1, n_jobs=1)
    joblib.dump(forest.fit(demo.x_train, demo.y_train), innocent)

    cert_path, report = tmp_path / "cert.json", tmp_path / "report.md"
    store_env = {"REDWATCH_DB_URL": db}
    run = cli(
        "ip", "verify-api", str(stolen), "--key", str(key_file), "--log", "store",
        "--out", str(cert_path), "--report", str(report), extra_env=store_env,
    )  # fmt: skip
    assert run.code == 0, (run.stdout, run.stderr)
    cert = json.loads(cert_path.read_text(encoding="utf-8"))
    check_certificate(cert, public_key_hex(read_key(str(key_file))))
    assert cert["method"] == "api-watermark"
    assert cert["test"]["p_value"] < 1e-6, cert["test"]
    assert cert["evidence"]["records_used"] == len(marks)
    assert "ownership shown" in report.read_text(encoding="utf-8")

    # The same records exported with `redwatch guard events --json` clear the innocent model.
    export = cli("guard", "events", "--kind", "watermark", "--limit", "1000", "--json",
                 extra_env=store_env)  # fmt: skip
    assert export.code == 0, export.stderr
    (tmp_path / "marks.json").write_text(export.stdout, encoding="utf-8")
    run = cli("ip", "verify-api", str(innocent), "--key", str(key_file), "--log",
              str(tmp_path / "marks.json"), "--json")  # fmt: skip
    assert run.code == 1, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["test"]["verdict"] == "not shown"
