"""Fuzzing the proxy (hypothesis, bounded): arbitrary bytes and JSON bodies, header values,
methods and paths never produce a 500, and every answer that is not a 200 is the protocol's
one-line JSON error with the documented keys (plus Retry-After on 429 and 503)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from functools import partial
from typing import Any

import anyio.from_thread
import httpx
import pytest
from _guard_http import ERROR_KEYS, wine_pipeline
from _guard_keys import api_key
from _guard_models import wine_case
from hypothesis import event, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from redwatch.guard.http import ProxySettings, build_proxy_app, model_app
from redwatch.guard.http.proxy import proxy_app
from redwatch.guard.http.upstream import Upstream

FUZZ = settings(max_examples=120, deadline=None, database=None)
KEY, ENTRY = api_key("fuzz", "labels")
PATHS = ["/predict", "/predict_proba", "/healthz", "/metrics"]


class SyncClient:
    """A blocking client of an app running in a portal's event loop (hypothesis drives
    synchronous tests); one AsyncClient and one upstream pool for the whole module."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: Starlette) -> None:
        self.portal = portal
        self.app = app
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1000))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://guard")

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Send one request and wait for its answer."""
        return self.portal.call(partial(self.client.request, method, path, **options))

    def post(self, path: str, **options: Any) -> httpx.Response:
        """Send one POST."""
        return self.request("POST", path, **options)

    def close(self) -> None:
        """Close the client and the app's upstream connections."""
        self.portal.call(self.client.aclose)
        self.portal.call(self.app.state.backend.aclose)


@pytest.fixture(scope="module")
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    """One event loop in a thread for the module's apps."""
    with anyio.from_thread.start_blocking_portal("asyncio") as running:
        yield running


@pytest.fixture(scope="module")
def local(portal: anyio.from_thread.BlockingPortal) -> Iterator[SyncClient]:
    """The proxy serving the wine model itself, repairing rows, with small caps."""
    stages = [
        {"name": "validate", "options": {"spec_check": "event", "max_rows": 8}},
        {"name": "sanitize"},
        {"name": "output", "options": {"reverse_sigmoid_beta": 0.5}},
    ]
    app = build_proxy_app(
        wine_pipeline(stages), model=wine_case().model, settings=ProxySettings(max_body_bytes=4096)
    )
    client = SyncClient(portal, app)
    yield client
    client.close()


@pytest.fixture(scope="module")
def remote(portal: anyio.from_thread.BlockingPortal) -> Iterator[SyncClient]:
    """The proxy with auth, a rate limit and strict validation in front of model_app
    (in-process upstream)."""
    stages = [
        {"name": "auth", "options": {"keys": [ENTRY]}},
        {"name": "ratelimit", "options": {"per_key": {"rate": 50, "burst": 5}}},
        {"name": "validate", "options": {"spec_check": "block"}},
        {"name": "sanitize"},
        {"name": "output"},
    ]
    transport = httpx.ASGITransport(app=model_app(wine_case().model))
    upstream = Upstream("http://model", transport=transport)
    client = SyncClient(portal, proxy_app(wine_pipeline(stages), upstream))
    yield client
    client.close()


def check(response: httpx.Response, path: str) -> None:
    """The invariants every answer keeps."""
    status = response.status_code
    event(f"status {status}")
    assert status != 500, response.text
    assert 200 <= status < 600, response.text
    if status == 200:
        if path != "/metrics":
            assert isinstance(json.loads(response.content), dict)
        return
    body = json.loads(response.content)
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status
    assert isinstance(body["stage"], str)
    assert isinstance(body["error"], str)
    assert body["error"]
    assert "\n" not in body["error"]
    if status in (429, 503):
        assert int(response.headers["retry-after"]) >= 1


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(min_value=-20, max_value=2000),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
instance_rows = st.lists(st.lists(numbers, min_size=11, max_size=14), min_size=0, max_size=10).map(
    lambda rows: {"instances": rows}
)
wine_rows = st.lists(
    st.tuples(st.integers(0, 177), st.floats(-0.03, 0.03)), min_size=1, max_size=10
).map(lambda picks: {"instances": [(wine_case().x[i] * (1 + e)).tolist() for i, e in picks]})
bodies = st.one_of(
    st.binary(max_size=300),
    wine_rows.map(json.dumps),
    json_values.map(json.dumps),
    st.builds(lambda v: {"instances": v}, json_values).map(json.dumps),
    instance_rows.map(json.dumps),
    st.integers(min_value=1, max_value=5).map(lambda n: "[" * 3000 * n),
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.one_of(
            st.sampled_from(["application/json", "text/plain", "application/x+json", ""]),
            header_text,
        ),
        "authorization": st.one_of(st.just(f"Bearer {KEY}"), header_text),
        "x-api-key": st.one_of(st.just(KEY), header_text),
        "accept": header_text,
    },
)
segments = st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=12)
paths = st.one_of(
    st.sampled_from(PATHS),
    st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])


@FUZZ
@given(path=st.sampled_from(["/predict", "/predict_proba"]), body=bodies)
def test_arbitrary_bodies_never_crash_the_local_proxy(
    local: SyncClient, path: str, body: Any
) -> None:
    check(local.post(path, content=body), path)


@FUZZ
@given(path=st.sampled_from(["/predict", "/predict_proba"]), body=bodies, extra=headers)
def test_arbitrary_bodies_and_headers_never_crash_the_guarded_upstream(
    remote: SyncClient, path: str, body: Any, extra: dict[str, str]
) -> None:
    check(remote.post(path, content=body, headers=extra), path)


@FUZZ
@given(method=methods, path=paths, body=st.one_of(st.none(), bodies), extra=headers)
def test_arbitrary_methods_and_paths_answer_json(
    local: SyncClient, method: str, path: str, body: Any, extra: dict[str, str]
) -> None:
    check(local.request(method, path, content=body, headers=extra), path)
