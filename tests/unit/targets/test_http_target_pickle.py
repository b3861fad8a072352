"""HttpTarget crosses a pickle (as the Ray executor sends it to workers): the copy drops the
open connection pool and lock, opens its own pool on first use, and answers like the
original against a real HTTP server on 127.0.0.1 serving a real scikit-learn model."""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from redwatch.targets.http_target import HttpTarget

X, Y = load_iris(return_X_y=True)
MODEL = LogisticRegression(max_iter=500).fit(X, Y)


class _ModelHandler(BaseHTTPRequestHandler):
    """POST {"instances": rows} -> {"probabilities": MODEL.predict_proba(rows)}."""

    def log_message(self, *args: object) -> None:
        """Keep the test output clean."""

    def do_POST(self) -> None:
        """Answer one batch with the model's probabilities."""
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        proba = MODEL.predict_proba(np.array(body["instances"]))
        answer = json.dumps({"probabilities": proba.tolist()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def model_url() -> Iterator[str]:
    """The model server's /predict URL; shut down and joined afterwards."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ModelHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_a_pickled_http_target_queries_the_model_server(model_url: str) -> None:
    original = HttpTarget(model_url, n_classes=3, batch_size=50)
    with original:
        before = original.predict_proba(X[:20])  # opens the connection pool and uses the lock
        assert original._client is not None
        copy = pickle.loads(pickle.dumps(original))
    assert copy._client is None
    with copy:
        answered = copy.predict_proba(X)
        labels = copy.predict(X[:20])
    np.testing.assert_allclose(answered, MODEL.predict_proba(X), rtol=1e-9)
    np.testing.assert_allclose(answered[:20], before, rtol=1e-9)
    assert labels.tolist() == MODEL.predict(X[:20]).tolist()
    assert (copy.url, copy.name, copy.capabilities) == (
        original.url,
        original.name,
        original.capabilities,
    )
    assert copy.queries == 20 + len(X) + 20  # the copy carries on the original's count
