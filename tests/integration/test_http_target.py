"""HttpTarget against a real HTTP server on 127.0.0.1 serving a real scikit-learn model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import EndpointError, QueryBudgetExceeded, UsageError
from redwatch.targets import load_target
from redwatch.targets.http_target import HttpTarget

pytestmark = pytest.mark.integration

X, Y = load_iris(return_X_y=True)
MODEL = LogisticRegression(max_iter=500).fit(X, Y)
NAMES = np.array(["setosa", "versicolor", "virginica"])
TOKEN = "s3cret-token"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inflight = 0
        self.max_inflight = 0
        self.requests = 0
        self.flaky_left = 0


class _Handler(BaseHTTPRequestHandler):
    state: _State

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes) -> None:
        self._done()  # counted out before the client can see the answer and send again
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        state = self.state
        with state.lock:
            state.inflight += 1
            state.requests += 1
            state.max_inflight = max(state.max_inflight, state.inflight)
        self.counted = True
        try:
            self._route(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        finally:
            self._done()

    def _done(self) -> None:
        """Count this request out of the in-flight total, once."""
        if getattr(self, "counted", False):
            self.counted = False
            with self.state.lock:
                self.state.inflight -= 1

    def _route(self, body: dict) -> None:
        path = self.path
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, b'{"error": "unauthorized"}')
            return
        if path == "/predict":
            time.sleep(0.1)  # long enough for concurrent requests to overlap, even under load
            proba = MODEL.predict_proba(np.array(body["instances"]))
            self._send(200, json.dumps({"probabilities": proba.tolist()}).encode())
        elif path == "/row":
            proba = MODEL.predict_proba(np.array([body["features"]]))[0]
            self._send(200, json.dumps({"result": {"proba": proba.tolist()}}).encode())
        elif path == "/labels":
            labels = NAMES[MODEL.predict(np.array(body["instances"]))]
            self._send(200, json.dumps({"predictions": [{"label": s} for s in labels]}).encode())
        elif path == "/slow":
            time.sleep(1.0)
            self._send(200, b"{}")
        elif path == "/flaky":
            with self.state.lock:
                fail = self.state.flaky_left > 0
                self.state.flaky_left -= 1
            if fail:
                self._send(503, b"busy")
            else:
                proba = MODEL.predict_proba(np.array(body["instances"]))
                self._send(200, json.dumps({"probabilities": proba.tolist()}).encode())
        else:
            self._garbage(path.rsplit("/", 1)[-1], np.array(body["instances"]))

    def _garbage(self, kind: str, rows: np.ndarray) -> None:
        proba = MODEL.predict_proba(rows).tolist()
        answers = {
            "notjson": b"<html>oops</html>",
            "missing": b'{"scores": []}',
            "nan": json.dumps({"probabilities": [[float("nan"), 0.5, 0.5]] * len(rows)}).encode(),
            "count": json.dumps({"probabilities": proba[:-1]}).encode(),
            "classes": json.dumps({"probabilities": [p[:2] for p in proba]}).encode(),
        }
        self._send(200, answers[kind])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, _State]]:
    state = _State()
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RW_TEST_TOKEN", TOKEN)
    return "RW_TEST_TOKEN"


def test_batch_mode_matches_the_model_and_respects_concurrency(server, token) -> None:
    url, state = server
    state.max_inflight = 0
    with HttpTarget(f"{url}/predict", auth_env=token, batch_size=10, concurrency=3) as target:
        proba = target.predict_proba(X)
        np.testing.assert_allclose(proba, MODEL.predict_proba(X), atol=1e-12)
        assert target.queries == len(X)
        assert target.capabilities.n_classes == 3
    assert 2 <= state.max_inflight <= 3  # 15 requests, at most 3 in flight


def test_row_mode_with_template_and_nested_path(server) -> None:
    url, _ = server
    target = HttpTarget(
        f"{url}/row",
        template='{"features": "{{row}}"}',
        response_path="$.result.proba",
        mode="row",
        headers={"Authorization": "Bearer ${RW_ROW_TOKEN}"},
        concurrency=2,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RW_ROW_TOKEN", TOKEN)
        assert (target.predict(X[:12]) == MODEL.predict(X[:12])).all()
    assert target.queries == 12


def test_labels_only_endpoint(server, token) -> None:
    url, _ = server
    target = load_target(
        f"{url}/labels",
        http_options={
            "auth_env": token,
            "output": "labels",
            "response_path": "$.predictions[*].label",
            "classes": list(NAMES),
        },
    )
    assert target.capabilities.names == {"labels"}
    assert (target.predict(X) == MODEL.predict(X)).all()


def test_missing_auth_is_401(server) -> None:
    url, _ = server
    with pytest.raises(EndpointError, match=r"answered HTTP 401 Unauthorized"):
        HttpTarget(f"{url}/predict").predict(X[:2])


def test_slow_endpoint_times_out_after_retries(server, token) -> None:
    url, _ = server
    target = HttpTarget(f"{url}/slow", auth_env=token, timeout=0.3, retries=1, backoff=0.01)
    with pytest.raises(EndpointError) as err:
        target.predict(X[:1])
    assert str(err.value) == f"endpoint {url}/slow timed out after 0.3s (2 attempts)"


def test_retries_on_503_then_succeeds(server, token) -> None:
    url, state = server
    state.flaky_left = 2
    target = HttpTarget(f"{url}/flaky", auth_env=token, retries=2, backoff=0.01)
    np.testing.assert_allclose(target.predict_proba(X[:4]), MODEL.predict_proba(X[:4]))
    state.flaky_left = 5
    with pytest.raises(EndpointError, match=r"answered HTTP 503 \(2 attempts\)"):
        HttpTarget(f"{url}/flaky", auth_env=token, retries=1, backoff=0.01).predict(X[:4])


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("notjson", "answered something that is not JSON: '<html>oops</html>'"),
        ("missing", r"answer has no \$.probabilities"),
        ("nan", "scores containing NaN"),
        ("count", "answered 4 rows for 5 sent"),
        ("classes", "answered 2 scores per row, expected 3"),
    ],
)
def test_garbage_answers(server, token, kind: str, message: str) -> None:
    url, _ = server
    target = HttpTarget(f"{url}/garbage/{kind}", auth_env=token, n_classes=3, retries=0)
    with pytest.raises(EndpointError, match=message):
        target.predict_proba(X[:5])


def test_budget_is_enforced_before_sending(server, token) -> None:
    url, state = server
    target = HttpTarget(f"{url}/predict", auth_env=token, query_budget=10)
    target.predict(X[:8])
    before = state.requests
    with pytest.raises(QueryBudgetExceeded):
        target.predict(X[:3])
    assert state.requests == before
    assert target.queries == 8


def test_connection_refused_and_bad_options() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = HttpTarget(f"http://127.0.0.1:{port}/p", retries=1, backoff=0.01)
    with pytest.raises(EndpointError, match=r"could not be reached .*\(2 attempts\)"):
        target.predict(X[:1])
    with pytest.raises(UsageError, match="exactly one of"):
        HttpTarget("http://127.0.0.1:1/p", template='{"x": 1}')
    with pytest.raises(UsageError, match="RW_UNSET_TOKEN"):
        HttpTarget("http://127.0.0.1:1/p", auth_env="RW_UNSET_TOKEN").predict(X[:1])
