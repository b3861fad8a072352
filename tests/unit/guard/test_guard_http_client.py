"""The proxy's minimal HTTP/1.1 client pool (and Upstream and the proxy app on top of it)
against real sockets: an asyncio server in the test answers each request as the test says
(well-formed, chunked, malformed, slow, or not at all) and records connections and requests."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest
from _guard_http import assert_error, closed_port, wine_pipeline
from _guard_models import wine_case

from redwatch.exceptions import UsageError
from redwatch.guard.http import model_app
from redwatch.guard.http.client import AnswerError, ConnectFailed, HttpPool, parse_head
from redwatch.guard.http.protocol import HttpError
from redwatch.guard.http.proxy import build_proxy_app, serving_process
from redwatch.guard.http.settings import ProxySettings
from redwatch.guard.http.upstream import Upstream

pytestmark = pytest.mark.anyio

PROBA = {"labels": [0], "probabilities": [[0.75, 0.25]], "classes": [0, 1]}
ROW = np.array([[1.0, 2.0, 3.0]])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Seen:
    """One request the server read: which connection (0, 1, ...), its place on that
    connection, the request line and the body."""

    connection: int
    index: int
    line: str
    body: bytes


class Last(bytes):
    """Bytes to send, after which the server closes the connection."""


# A responder gets the request and returns the raw bytes to send back (None: close the
# connection without answering; Last: send, then close).
Responder = Callable[[Seen], Awaitable[bytes | None]]


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """A Content-Length framed answer with extra header lines."""
    extra = "".join(f"{h}\r\n" for h in headers)
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}"
    return f"{head}content-length: {len(body)}\r\n\r\n".encode() + body


def json_answer(value: object, *headers: str) -> bytes:
    """A 200 answer carrying `value` as JSON."""
    return answer(json.dumps(value).encode(), *headers)


@dataclass
class Server:
    """The test's HTTP server: connections opened, requests read, and how many connections
    were open at once at most."""

    respond: Responder
    close_after_answer: bool = False
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    open_max: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until the client or the responder closes it."""
        number, self.connections = self.connections, self.connections + 1
        self.open_now += 1
        self.open_max = max(self.open_max, self.open_now)
        try:
            for index in range(1000):
                request = await _read_request(reader, number, index)
                if request is None:
                    return
                self.seen.append(request)
                reply = await self.respond(request)
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
                if self.close_after_answer or isinstance(reply, Last):
                    return
        except ConnectionError:
            return
        finally:
            self.open_now -= 1
            writer.close()


async def _read_request(reader: asyncio.StreamReader, number: int, index: int) -> Seen | None:
    """One request (head and Content-Length body), None when the client closed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Seen(number, index, lines[0], body)


@asynccontextmanager
async def serving(
    respond: Responder, close_after_answer: bool = False
) -> AsyncIterator[tuple[Server, str]]:
    """A running Server on a free loopback port and its base URL; the block must end within
    20 s (a hang is a failure, not a stuck run)."""
    server = Server(respond, close_after_answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(20):
            yield server, f"http://127.0.0.1:{port}"
    finally:
        listener.close()


async def proba(request: Seen) -> bytes:
    """The protocol's predict_proba answer for one row."""
    return json_answer(PROBA)


# --- keep-alive, framing, Connection: close --------------------------------------------------


async def test_keep_alive_reuses_one_connection_and_sends_the_protocol() -> None:
    async with serving(proba) as (server, url):
        pool = HttpPool(url + "/model/", max_connections=4)
        answers = [await pool.post("/predict_proba", b'{"instances":[[1.0]]}') for _ in range(3)]
        await pool.aclose()
    assert [a.status for a in answers] == [200, 200, 200]
    assert json.loads(answers[0].body) == PROBA
    assert server.connections == 1
    assert [(s.connection, s.index) for s in server.seen] == [(0, 0), (0, 1), (0, 2)]
    assert server.seen[0].line == "POST /model/predict_proba HTTP/1.1"
    assert server.seen[0].body == b'{"instances":[[1.0]]}'


async def test_chunked_answers_are_reassembled() -> None:
    body = json.dumps(PROBA).encode()
    chunks = [body[:10], body[10:]]

    async def chunked(request: Seen) -> bytes:
        parts = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head + parts + b"0\r\nx-trailer: yes\r\n\r\n"

    async with serving(chunked) as (server, url):
        pool = HttpPool(url)
        first = await pool.post("/predict_proba", b"{}")
        second = await pool.post("/predict_proba", b"{}")
        await pool.aclose()
    assert first.body == body
    assert second.body == body
    assert server.connections == 1  # the trailer was consumed: the connection stayed usable


async def test_connection_close_is_honoured() -> None:
    async def closing(request: Seen) -> bytes:
        return json_answer(PROBA, "Connection: close")

    async with serving(closing) as (server, url):
        pool = HttpPool(url)
        for _ in range(2):
            assert (await pool.post("/predict", b"{}")).status == 200
        assert pool.idle == []
        assert pool.opened == 0
    assert server.connections == 2


async def test_bytes_beyond_the_answer_keep_the_connection_from_reuse() -> None:
    async def trailing(request: Seen) -> bytes:
        return json_answer(PROBA) + b"HTTP/1.1 200 OK\r\n"

    async with serving(trailing) as (server, url):
        pool = HttpPool(url)
        first = await pool.post("/p", b"{}")
        await asyncio.sleep(0.05)  # the stray bytes may come in a later segment
        second = await pool.post("/p", b"{}")
        await pool.aclose()
    assert json.loads(first.body) == json.loads(second.body) == PROBA
    assert server.connections == 2


async def test_idle_connections_are_reused_last_in_first_out() -> None:
    async def by_body(request: Seen) -> bytes:
        if request.body == b"slow":
            await asyncio.sleep(0.2)
        return json_answer({"connection": request.connection})

    async with serving(by_body) as (_, url):
        pool = HttpPool(url)
        slow, fast = await asyncio.gather(pool.post("/p", b"slow"), pool.post("/p", b"fast"))
        after = await pool.post("/p", b"next")
        await pool.aclose()
    assert json.loads(fast.body) != json.loads(slow.body)
    assert json.loads(after.body) == json.loads(slow.body)  # the last one back goes first


# --- the peer closing connections -----------------------------------------------------------


async def test_a_reused_connection_the_peer_closed_is_retried_on_a_fresh_one() -> None:
    async def drop_second(request: Seen) -> bytes | None:
        return None if request.connection == 0 and request.index == 1 else json_answer(PROBA)

    async with serving(drop_second) as (server, url):
        pool = HttpPool(url)
        first = await pool.post("/predict_proba", b"{}")
        second = await pool.post("/predict_proba", b"{}")
        await pool.aclose()
    assert (first.status, second.status) == (200, 200)
    assert [(s.connection, s.index) for s in server.seen] == [(0, 0), (0, 1), (1, 0)]


async def test_an_idle_connection_closed_while_idle_is_dropped_before_use() -> None:
    async with serving(proba, close_after_answer=True) as (server, url):
        pool = HttpPool(url)
        await pool.post("/p", b"{}")
        idle = pool.idle[0]
        for _ in range(500):
            if idle.reader.at_eof():
                break
            await asyncio.sleep(0.01)
        assert not idle.usable()
        again = await pool.post("/p", b"{}")
        await pool.aclose()
    assert again.status == 200
    assert [(s.connection, s.index) for s in server.seen] == [(0, 0), (1, 0)]
    assert pool.opened == 0


async def test_no_retry_on_a_fresh_connection_or_after_answer_bytes() -> None:
    async def half_answer(request: Seen) -> bytes | None:
        if request.connection == 0 and request.index == 0:
            return json_answer(PROBA)
        return Last(b"HTTP/1.1 200 OK\r\ncontent-le")

    async def never(request: Seen) -> None:
        return None

    async with serving(half_answer) as (partial, url):
        pool = HttpPool(url)
        await pool.post("/p", b"{}")
        with pytest.raises(AnswerError, match="middle of its headers"):
            await pool.post("/p", b"{}")
    assert partial.connections == 1  # bytes had arrived: not retried
    async with serving(never) as (silent, url):
        with pytest.raises(AnswerError, match="closed the connection without answering"):
            await HttpPool(url).post("/p", b"{}")
    assert silent.connections == 1  # a fresh connection is not retried


# --- garbage, limits and timeouts through Upstream -----------------------------------------


async def _refusal(reply: bytes, settings: ProxySettings | None = None) -> HttpError:
    """The HttpError Upstream raises when the server answers `reply` to everything."""

    async def fixed(request: Seen) -> bytes:
        return reply

    async with serving(fixed) as (_, url):
        upstream = Upstream(url, settings).check()
        with pytest.raises(HttpError) as info:
            await upstream.predict(ROW, "predict_proba")
        await upstream.aclose()
    return info.value


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (b"HTTP/1.1 OK 200\r\n\r\n", "malformed status line"),
        (b"ICY 200 OK\r\ncontent-length: 0\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{}", "neither Content-"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", "unsupported transfer-enc"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n", "conflicting Content-Length"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nx: " + b"a" * 70_000 + b"\r\n\r\n", "headers exceed 65536"),
        (answer(b"{}", status="500 Internal Server Error"), "upstream answered 500"),
    ],
)
async def test_garbage_answers_are_502_with_a_reason(reply: bytes, words: str) -> None:
    refusal = await _refusal(reply)
    assert refusal.status == 502
    assert words in refusal.message


async def test_an_answer_over_the_body_cap_is_refused() -> None:
    big = answer(b"x" * 1000)

    async def fixed(request: Seen) -> bytes:
        return big

    async with serving(fixed) as (_, url):
        with pytest.raises(AnswerError, match="exceeds 100 bytes"):
            await HttpPool(url, max_body_bytes=100).post("/p", b"{}")


async def test_the_answer_is_validated_and_counted_by_the_breaker() -> None:
    async with serving(proba) as (server, url):
        upstream = Upstream(url, ProxySettings(breaker_failures=2)).check()
        response = await upstream.predict(ROW, "predict_proba")
        await upstream.aclose()
    np.testing.assert_allclose(response.proba, [[0.75, 0.25]])
    assert response.classes.tolist() == [0, 1]
    assert json.loads(server.seen[0].body) == {"instances": [[1.0, 2.0, 3.0]]}
    assert upstream.state == "closed"


async def test_an_upstream_that_never_answers_is_504() -> None:
    async def silent(request: Seen) -> bytes:
        await asyncio.sleep(30)
        return b""

    settings = ProxySettings(upstream_timeout_s=0.2, connect_timeout_s=0.2)
    refusal = await _refusal_of(silent, settings)
    assert refusal.status == 504
    assert refusal.message == "upstream did not answer within 0.2 s"


async def _refusal_of(respond: Responder, settings: ProxySettings) -> HttpError:
    """The HttpError Upstream raises in front of `respond`."""
    async with serving(respond) as (_, url):
        upstream = Upstream(url, settings).check()
        with pytest.raises(HttpError) as info:
            await upstream.predict(ROW, "predict")
        assert upstream.pool.idle == []  # the timed-out connection was not kept
        await upstream.aclose()
    return info.value


async def test_a_refused_connection_is_502_unreachable() -> None:
    port = closed_port()
    with pytest.raises(ConnectFailed, match=f"connection refused at 127.0.0.1:{port}"):
        await HttpPool(f"http://127.0.0.1:{port}").post("/p", b"{}")
    upstream = Upstream(f"http://127.0.0.1:{port}").check()
    with pytest.raises(HttpError, match="upstream unreachable") as info:
        await upstream.predict(ROW, "predict")
    assert info.value.status == 502
    assert upstream.breaker.count == 1


# --- the pool bound and the URL --------------------------------------------------------------


async def test_the_pool_never_opens_more_than_max_connections() -> None:
    async def slow(request: Seen) -> bytes:
        await asyncio.sleep(0.05)
        return json_answer({"n": request.connection})

    async with serving(slow) as (server, url):
        pool = HttpPool(url, max_connections=3)
        answers = await asyncio.gather(*(pool.post("/p", b"{}") for _ in range(12)))
        busy_max = pool.opened
        await pool.aclose()
    assert [a.status for a in answers] == [200] * 12
    assert server.connections == 3
    assert server.open_max == 3
    assert busy_max == 3
    assert len(server.seen) == 12


def test_only_http_urls_go_through_the_pool() -> None:
    assert Upstream("http://10.0.0.5:8000/base/").check().uses_pool
    assert not Upstream("https://models.example:8443").check().uses_pool
    with pytest.raises(UsageError, match="http"):
        Upstream("http://10.0.0.5:8000/x?y=1").check()
    with pytest.raises(ValueError, match="http://"):
        _ = HttpPool("https://models.example").origin
    request = HttpPool("http://bücher.example/a b/").request_bytes("/predict", b"{}")
    assert request.startswith(b"POST /a%20b/predict HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n")
    assert request.endswith(b"Content-Length: 2\r\n\r\n{}")


def test_parse_head_reads_status_headers_and_keep_alive() -> None:
    head = b"HTTP/1.1 201 Created\r\nA: 1\r\nA: 2\r\nConnection: Keep-Alive, Close\r\n\r\n"
    assert parse_head(head) == (201, {"a": "1, 2", "connection": "Keep-Alive, Close"}, False)
    assert parse_head(b"HTTP/1.0 200 OK\r\n\r\n")[2] is False
    assert parse_head(b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\n\r\n")[2] is True
    with pytest.raises(AnswerError, match="malformed header"):
        parse_head(b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n")


class _Handler(BaseHTTPRequestHandler):
    """A keep-alive HTTP/1.1 handler of the standard library (a server outside any loop)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Answer every POST with the predict_proba answer, keeping the connection."""
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps(PROBA).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_a_pool_used_from_a_new_event_loop_starts_afresh() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        pool = HttpPool(f"http://127.0.0.1:{server.server_address[1]}")
        first = asyncio.run(pool.post("/p", b"{}"))
        assert len(pool.idle) == 1
        second = asyncio.run(pool.post("/p", b"{}"))
    finally:
        server.shutdown()
        server.server_close()
    assert (first.status, second.status) == (200, 200)
    assert pool.opened == 1  # the first loop's connection was dropped, not counted


# --- the proxy app on the pool ---------------------------------------------------------------


async def test_the_proxy_answers_alike_on_its_shortcut_and_through_starlette() -> None:
    wine = wine_case()
    inner = httpx.ASGITransport(app=model_app(wine.model))

    async def relay(request: Seen) -> bytes:
        async with httpx.AsyncClient(transport=inner, base_url="http://m") as client:
            got = await client.post(request.line.split()[1], content=request.body)
        return answer(got.content, status=f"{got.status_code} X")

    x = wine.x[:3].tolist()
    async with serving(relay) as (server, url):
        app = build_proxy_app(wine_pipeline(), upstream=url)
        answers = []
        for root in ("", "/guard"):  # under a root path the Starlette route answers
            transport = httpx.ASGITransport(app=app, root_path=root)
            async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
                answers.append(await client.post(f"{root}/predict_proba", json={"instances": x}))
                refused = await client.post(f"{root}/predict", json={"instances": [[1.0]]})
                assert "expects 13" in assert_error(refused, 400, "validate")
        await app.state.backend.aclose()
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    np.testing.assert_allclose(
        answers[0].json()["probabilities"], np.round(wine.model.predict_proba(wine.x[:3]), 4)
    )
    assert server.connections == 1  # both calls went over one pooled connection


async def test_the_breaker_gauge_follows_the_upstream_state() -> None:
    async with serving(proba) as (_, url):
        settings = ProxySettings(breaker_failures=1, breaker_reset_s=60, connect_timeout_s=1)
        app = build_proxy_app(wine_pipeline([]), upstream=url, settings=settings)
    transport = httpx.ASGITransport(app=app)  # the server is gone now: the call fails
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
        failed = await client.post("/predict", json={"instances": [[1.0] * 13]})
        scrape = app.state.metrics.render().decode()
    assert_error(failed, 502)
    assert 'redwatch_guard_upstream_state{state="open"} 1.0' in scrape
    assert 'redwatch_guard_upstream_state{state="closed"} 0.0' in scrape


def test_serving_tunes_the_process_and_restores_it() -> None:
    before = sys.getswitchinterval()
    with serving_process(0.002):
        assert sys.getswitchinterval() == 0.002
        assert gc.get_freeze_count() > 1000
    assert sys.getswitchinterval() == before
    assert gc.get_freeze_count() == 0
