"""`redwatch scan URL`: a real HTTP prediction server on 127.0.0.1 serving a real model."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib
import numpy as np
import pytest
from e2e_helpers import fast_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def endpoint(gbm_files) -> Iterator[str]:  # type: ignore[no-untyped-def]
    model = joblib.load(gbm_files[0])  # our own file, written by the fixture
    seen = {"rows": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.headers.get("Authorization") != "Bearer s3cret":
                self.send_response(401)
                self.end_headers()
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            rows = np.asarray(body["instances"], dtype=float)
            seen["rows"] += len(rows)
            proba = model.predict_proba(rows).tolist()
            answer = json.dumps({"probabilities": proba}).encode()
            if self.path == "/slow":
                time.sleep(2.0)
            if self.path == "/garbage":
                answer = b"<html>internal error page</html>"
            elif self.path == "/short":
                answer = json.dumps({"probabilities": proba[:-1]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    server.shutdown()
    server.server_close()


def test_scan_http_endpoint_with_auth_and_budget(cli, gbm_files, endpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    cfg = fast_config(tmp_path / "redwatch.yaml")
    run = cli(
        "scan",
        endpoint,
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--auth-env",
        "REDWATCH_TEST_TOKEN",
        "--budget-queries",
        "20000",
        "--config",
        str(cfg),
        "--json",
        "--fail-on",
        "none",
        extra_env={"REDWATCH_TEST_TOKEN": "s3cret"},
    )
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["campaign"]["target_kind"] == "http"
    probes = {p["probe"]: p for p in report["probes"]}
    assert probes["evasion.square"]["status"] in ("ok", "budget")
    assert sum(p["queries"] for p in report["probes"]) <= 20000 + 200  # + the data check
    assert report["findings"]


def test_wrong_token_is_a_clean_error(cli, gbm_files, endpoint) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    run = cli(
        "scan",
        endpoint,
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--header",
        "Authorization: Bearer wrong",
    )
    assert run.code == 2
    assert "401" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("path", "needle"), [("/garbage", "not JSON"), ("/short", "rows"), ("/slow", "timed out")]
)
def test_garbage_answers_are_clean_errors(cli, gbm_files, endpoint, path, needle) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    url = endpoint.replace("/predict", path)
    run = cli(
        "scan",
        url,
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--header",
        "Authorization: Bearer s3cret",
        "--timeout",
        "0.5",
    )
    assert run.code == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert needle in run.stderr
    listed = cli("findings", "list", "--json")
    assert json.loads(listed.stdout) == []
