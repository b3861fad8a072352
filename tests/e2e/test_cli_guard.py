"""`redwatch guard` through the console script: every bad input is one line and exit 2
(checked before a port is bound); `--model` mode serves the protocol around a real model;
SIGTERM stops it with exit 0 after flushing its events to the store."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from redwatch.store.repository import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from guard_process import GuardProcess

pytestmark = pytest.mark.e2e

UPSTREAM = "http://127.0.0.1:9"  # never contacted: every case fails before serving


def _evil_pickle(marker: Path) -> bytes:
    """A pickle whose loading would run `touch marker` (os.system): code execution."""
    return f"cposix\nsystem\n(Vtouch {marker}\ntR.".encode()


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def policies(tmp_path: Path) -> dict[str, str]:
    """Policy files with one mistake each."""
    return {
        "unknown": _write(tmp_path / "unknown.yaml", "stages:\n  - name: nosuchstage\n"),
        "option": _write(
            tmp_path / "option.yaml", "stages:\n  - name: output\n    options: {decimals: -1}\n"
        ),
        "local": _write(
            tmp_path / "local.yaml",
            "stages:\n  - name: detect\n    options: {detectors: [squeeze]}\n",
        ),
    }


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a listening socket holds for the test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


CASES = {
    "neither": ((), "exactly one of --upstream"),
    "both": (("--upstream", UPSTREAM, "--model", "m.joblib"), "exactly one of --upstream"),
    "scheme": (("--upstream", "ftp://127.0.0.1:9"), "http(s) URL"),
    "endpoint": (("--upstream", f"{UPSTREAM}/predict_proba"), "base URL"),
    "no-model": (("--model", "missing.joblib"), "model file not found"),
    "no-policy": (("--upstream", UPSTREAM, "--policy", "missing.yaml"), "file not found"),
    "no-data": (("--upstream", UPSTREAM, "--data", "missing.csv"), "not found"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_arguments_are_one_line_and_exit_2(cli, case: str) -> None:  # type: ignore[no-untyped-def]
    args, needle = CASES[case]
    run = cli("guard", *args, timeout=60)
    assert run.code == 2, (run.stdout, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert needle in run.stderr
    assert "serving on" not in run.stdout


@pytest.mark.parametrize(
    ("policy", "needle"),
    [
        ("unknown", "unknown guard stage 'nosuchstage'"),
        ("option", "stage output: decimals"),
        ("local", "needs a local model"),
    ],
)
def test_policy_errors_name_the_file_and_exit_2(cli, policies, policy: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    run = cli("guard", "--upstream", UPSTREAM, "--policy", policies[policy], timeout=60)
    assert run.code == 2, (run.stdout, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert needle in run.stderr
    assert policies[policy] in run.stderr


def test_port_in_use_is_one_line_and_exit_2(cli, busy_port: int) -> None:  # type: ignore[no-untyped-def]
    run = cli("guard", "--upstream", UPSTREAM, "--port", str(busy_port), timeout=60)
    assert run.code == 2, (run.stdout, run.stderr)
    assert run.stderr.strip() == f"redwatch: error: --port: 127.0.0.1:{busy_port} is already in use"


def test_unsafe_model_file_is_refused_before_loading(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    model = tmp_path / "evil.joblib"
    model.write_bytes(_evil_pickle(marker))
    run = cli("guard", "--model", str(model), timeout=60)
    assert run.code == 2, (run.stdout, run.stderr)
    assert "refusing to load" in run.stderr
    assert "posix.system" in run.stderr or "os.system" in run.stderr
    assert not marker.exists(), "the model file was unpickled"


def _call(url: str, body: bytes | None = None) -> tuple[int, Any]:
    """POST `body` (GET without one); the status and the decoded JSON answer."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _rows(x: np.ndarray) -> bytes:
    return json.dumps({"instances": x.tolist()}).encode()


@pytest.fixture
def model_guard(gbm_files, tmp_path: Path) -> Iterator[tuple[GuardProcess, str, Path]]:  # type: ignore[no-untyped-def]
    """`redwatch guard --model` around the XGBoost breast-cancer model on a free port, with
    its data as reference and a SQLite store of its own; stopped (hard) after the test."""
    model, data = gbm_files
    db = tmp_path / "events.db"
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    args = ["--model", str(model), "--data", str(data), "--label", "diagnosis", "--port", "0"]
    guard = GuardProcess([*args, "--db", f"sqlite:///{db}"], tmp_path, env)
    try:
        yield guard, guard.ready_url(), db
    finally:
        if guard.proc.poll() is None:
            guard.proc.kill()
            guard.proc.wait()


@pytest.mark.slow
def test_model_mode_serves_the_protocol_and_sigterm_flushes_events(gbm_files, model_guard) -> None:  # type: ignore[no-untyped-def]
    guard, url, db = model_guard
    assert "(model " in guard.seen[-1]
    assert "policy: default (validate, sanitize, output)" in guard.seen[-1]
    model = joblib.load(gbm_files[0])  # our own file, written by the fixture
    x = pd.read_csv(gbm_files[1]).drop(columns="diagnosis").to_numpy()[:5]

    status, answer = _call(f"{url}/predict_proba", _rows(x))
    assert status == 200, answer
    assert np.allclose(answer["probabilities"], model.predict_proba(x), atol=6e-5)
    assert answer["labels"] == model.predict(x).tolist()
    status, answer = _call(f"{url}/predict", _rows(x))
    assert (status, answer["labels"]) == (200, model.predict(x).tolist())
    assert _call(f"{url}/healthz")[1]["upstream"] == "local"

    status, answer = _call(f"{url}/predict_proba", b"{not json")
    assert (status, answer["status"], answer["stage"]) == (400, 400, "proxy"), answer
    outside = x[:1].copy()
    outside[0, 0] = 1e6  # far above the data's range: recorded by validate, clipped by sanitize
    status, answer = _call(f"{url}/predict_proba", _rows(outside))
    assert status == 200, answer

    assert guard.stop() == 0, guard.stderr()  # at once: its events are still in the queue
    assert "redwatch guard: stopped" in "\n".join(guard.rest_of_stdout())
    assert "Traceback" not in guard.stderr()
    with Store.open(f"sqlite:///{db}") as store:
        events = store.list_events(limit=1000)
    assert {"spec_violation", "bad_request"} <= {event["kind"] for event in events}, events
    assert all(event["source"].startswith("guard@127.0.0.1:") for event in events)


@pytest.fixture
def credit_files(tmp_path: Path) -> tuple[Path, Path, Any]:
    """The demo credit model (XGBoost on ISLR Default) as a joblib file, its training rows
    as the guard's --data, and the demo object."""
    from redwatch.demo.models import train_credit_gbm

    demo = train_credit_gbm(seed=0)
    model = tmp_path / "credit.joblib"
    joblib.dump(demo.model, model)
    data = tmp_path / "credit.csv"
    pd.DataFrame(demo.x_train, columns=list(demo.feature_names)).to_csv(data, index=False)
    return model, data, demo


@pytest.mark.slow
def test_extraction_attack_on_the_demo_model_is_alerted(
    credit_files: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    """A Knockoff-style thief (natural data of another distribution, one row per call)
    against `redwatch guard --model` of the demo credit model is flagged by the extraction
    stage, alerted through the log sink and recorded in the store; benign calls before it
    (held-out rows of the model's own data) raise nothing."""
    from redwatch.demo.datasets import load_credit_transfer

    model, data, demo = credit_files
    policy = _write(
        tmp_path / "policy.yaml",
        "stages:\n  - name: validate\n    options: {spec_check: event}\n"
        "  - name: extraction\n  - name: output\n",
    )
    db, alerts = tmp_path / "events.db", tmp_path / "alerts.jsonl"
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    args = ["--model", str(model), "--data", str(data), "--policy", policy, "--port", "0"]
    args += ["--db", f"sqlite:///{db}", "--alert-log", str(alerts)]
    guard = GuardProcess(args, tmp_path, env)
    try:
        url = guard.ready_url()
        for row in demo.x_test[:40]:
            assert _call(f"{url}/predict_proba", _rows(row[None, :]))[0] == 200
        thief = load_credit_transfer()[np.random.default_rng(0).permutation(400)[:120]]
        theft_began = time.time()
        for row in thief:
            assert _call(f"{url}/predict_proba", _rows(row[None, :]))[0] == 200
        assert guard.stop() == 0, guard.stderr()
    finally:
        if guard.proc.poll() is None:
            guard.proc.kill()
            guard.proc.wait()
    sent = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines()]
    flagged = [a for a in sent if a["kind"] == "extraction"]
    assert flagged, f"no extraction alert in {sent}"
    with Store.open(f"sqlite:///{db}") as store:
        events = store.list_events(kind="extraction", limit=100)
    assert events, "no extraction event in the store"
    assert all(event["timestamp"] >= theft_began for event in events), "benign calls flagged"
    assert events[-1]["data"]["queries"] <= 200
