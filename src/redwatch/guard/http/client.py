"""A minimal asyncio HTTP/1.1 client pool for the proxy's hop to its upstream.

Why not httpx: on the proxy's hot path an httpx call cost about 1.8 ms of CPU and its pool
scanned every connection several times per request, where a plain keep-alive exchange on
asyncio streams costs about 0.1 ms. This pool does only what the hop needs: POST a body
to one http:// origin over at most `max_connections` keep-alive connections (idle ones
reused last-in first-out), one write per request, answers framed by Content-Length or
chunked transfer-encoding, header and body size caps, and one retry on a fresh connection
when a reused idle one turns out to be closed by the peer before any answer byte arrived.
Failures are ClientError subclasses; the caller (upstream.py) turns them into HTTP statuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, urlsplit

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
MAX_BODY_BYTES = 64 * 1024 * 1024
NO_BODY = frozenset({204, 304})
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ClientError(Exception):
    """The hop failed; the message is one line naming why."""


class ConnectFailed(ClientError):
    """No connection could be opened (refused, unreachable, name not found)."""


class ConnectTimeout(ClientError):
    """The upstream did not accept a connection within the connect timeout."""


class AnswerError(ClientError):
    """The upstream answered something that is not HTTP/1.1 this client accepts."""


class PeerClosed(ClientError):
    """The connection closed (or reset) before any byte of the answer arrived."""


@dataclass(frozen=True)
class Origin:
    """Where requests go: host, port, the base path the request paths are appended to, and
    the Host header value."""

    host: str
    port: int
    base_path: str
    authority: str

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        """The origin of an `http://host[:port][/prefix]` URL; ValueError for anything else
        (https, no host, a bad port, a query or fragment)."""
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"not an http://host[:port] base URL: {base_url!r}")
        port = parts.port or 80
        host = parts.hostname
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise ValueError(f"not a valid host name: {parts.hostname!r}") from None
        name = f"[{host}]" if ":" in host else host
        authority = name if port == 80 else f"{name}:{port}"
        path = quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=-._~")  # ASCII on the wire
        return cls(host, port, path, authority)


class _Counting(asyncio.StreamReaderProtocol):
    """A stream protocol that counts the bytes it received, so that a failed exchange can
    tell whether any answer byte had arrived (only then is a retry unsafe)."""

    received = 0

    def data_received(self, data: bytes) -> None:
        """Count, then hand to the reader as usual."""
        self.received += len(data)
        super().data_received(data)


class Connection:
    """One keep-alive connection: its streams, and the bytes read from it so far (all reads
    go through `until` and `exactly`), so that bytes received but not part of an answer
    (trailing garbage, or anything sent while idle) are noticed."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wire: _Counting
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.wire = wire
        self.taken = 0

    async def until(self, separator: bytes) -> bytes:
        """Bytes up to and including `separator` (the reader's limit caps the length)."""
        data = await self.reader.readuntil(separator)
        self.taken += len(data)
        return data

    async def exactly(self, size: int) -> bytes:
        """Exactly `size` bytes."""
        data = await self.reader.readexactly(size)
        self.taken += size
        return data

    def usable(self) -> bool:
        """False when the peer closed it, it broke, or it holds bytes no answer claimed."""
        return not (
            self.reader.at_eof()
            or self.reader.exception() is not None
            or self.writer.transport.is_closing()
            or self.wire.received != self.taken
        )

    def close(self) -> None:
        """Close the socket without waiting (safe inside cancellation, and when its event
        loop is gone already)."""
        with contextlib.suppress(RuntimeError):
            self.writer.transport.abort()


@dataclass
class Answer:
    """A complete answer: status, body, and whether the connection may be reused."""

    status: int
    body: bytes
    keep_alive: bool


class HttpPool:
    """Keep-alive connections to one origin, at most `max_connections` open at once; callers
    beyond that wait for a free one. Bound to the event loop of its latest use."""

    slots: asyncio.Semaphore  # one slot per connection that may be busy; set on first use

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 100,
        connect_timeout_s: float = 2.0,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url
        self.max_connections = max_connections
        self.connect_timeout_s = connect_timeout_s
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.idle: list[Connection] = []
        self.opened = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    @cached_property
    def origin(self) -> Origin:
        """The parsed base URL (ValueError when it is not http://)."""
        return Origin.parse(self.base_url)

    @cached_property
    def _head_prefix(self) -> bytes:
        """The fixed request headers after the request line."""
        return (
            f"Host: {self.origin.authority}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            "Content-Length: "
        ).encode("latin-1")

    def request_bytes(self, path: str, body: bytes) -> bytes:
        """The whole request (request line, headers, body) as one buffer: one write."""
        line = f"POST {self.origin.base_path}{path} HTTP/1.1\r\n".encode("latin-1")
        return b"%s%s%d\r\n\r\n%s" % (line, self._head_prefix, len(body), body)

    async def post(self, path: str, body: bytes) -> Answer:
        """POST `body` to base path + `path`; the answer, or a ClientError. Time limits
        beyond the connect timeout are the caller's (cancel the task)."""
        request = self.request_bytes(path, body)
        if asyncio.get_running_loop() is not self.loop:
            self._rebind()
        async with self.slots:
            return await self._send(request)

    def _rebind(self) -> None:
        """First use, or use from another event loop (tests, a restarted server): connections
        and waiters of the old loop cannot serve this one, so start afresh."""
        while self.idle:
            self._discard(self.idle.pop())
        self.loop = asyncio.get_running_loop()
        self.slots = asyncio.Semaphore(self.max_connections)

    async def _send(self, request: bytes) -> Answer:
        """Try a reused idle connection; on PeerClosed there, once more on a fresh one."""
        connection = self._checkout()
        if connection is not None:
            try:
                return await self._exchange(connection, request)
            except PeerClosed:
                pass
        connection = await self._connect()
        try:
            return await self._exchange(connection, request)
        except PeerClosed as exc:
            raise AnswerError(f"upstream closed the connection without answering ({exc})") from None

    def _checkout(self) -> Connection | None:
        """The most recently idled usable connection (LIFO), dropping dead ones."""
        while self.idle:
            connection = self.idle.pop()
            if connection.usable():
                return connection
            self._discard(connection)
        return None

    async def _connect(self) -> Connection:
        """A fresh connection within the connect timeout."""
        origin, loop = self.origin, asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self.max_header_bytes, loop=loop)
        wire = _Counting(reader, loop=loop)
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                transport, _ = await loop.create_connection(lambda: wire, origin.host, origin.port)
        except TimeoutError:
            raise ConnectTimeout(
                f"upstream did not accept a connection within {self.connect_timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise ConnectFailed(f"{os_reason(exc)} at {origin.host}:{origin.port}") from None
        self.opened += 1
        return Connection(reader, asyncio.StreamWriter(transport, wire, reader, loop), wire)

    async def _exchange(self, connection: Connection, request: bytes) -> Answer:
        """Write the request, read the answer; the connection goes back idle when both ends
        keep it alive, and is closed on any failure or cancellation."""
        before = connection.wire.received
        done = False
        try:
            connection.writer.write(request)
            answer = await self._read(connection, before)
            done = answer.keep_alive
            return answer
        finally:
            if done and connection.wire.received == connection.taken:
                self.idle.append(connection)
            else:
                self._discard(connection)

    async def _read(self, connection: Connection, before: int) -> Answer:
        """Read one answer, skipping interim 1xx ones."""
        while True:
            head = await self._head(connection, before)
            status, headers, keep_alive = parse_head(head)
            if 100 <= status < 200:
                if status == 101:
                    raise AnswerError("upstream switched protocols (101)")
                continue
            body = await self._body(connection, status, headers)
            return Answer(status, body, keep_alive)

    async def _head(self, connection: Connection, before: int) -> bytes:
        """The status line and headers, up to the blank line; PeerClosed when the connection
        ended before any byte arrived, AnswerError otherwise."""
        try:
            return await connection.until(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise AnswerError(
                f"upstream answer headers exceed {self.max_header_bytes} bytes"
            ) from None
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if connection.wire.received == before:
                raise PeerClosed(_closed_reason(exc)) from None
            raise AnswerError(
                "upstream closed the connection in the middle of its headers"
            ) from None

    async def _body(self, connection: Connection, status: int, headers: dict[str, str]) -> bytes:
        """The body, framed by chunked encoding or Content-Length (nothing else accepted)."""
        try:
            if status in NO_BODY:
                return b""
            coding = headers.get("transfer-encoding")
            if coding is not None:
                if coding.strip().lower() != "chunked":
                    raise AnswerError(f"upstream used unsupported transfer-encoding {coding!r}")
                return await read_chunked(connection, self.max_body_bytes)
            length = content_length(headers.get("content-length"))
            if length > self.max_body_bytes:
                raise AnswerError(f"upstream answer exceeds {self.max_body_bytes} bytes")
            return await connection.exactly(length) if length else b""
        except asyncio.LimitOverrunError:
            raise AnswerError("upstream chunk size line is too long") from None
        except (asyncio.IncompleteReadError, ConnectionError):
            raise AnswerError(
                "upstream closed the connection in the middle of its answer"
            ) from None

    def _discard(self, connection: Connection) -> None:
        """Close a connection that will not be used again."""
        connection.close()
        self.opened -= 1

    async def aclose(self) -> None:
        """Close every idle connection (busy ones close when their exchange ends)."""
        while self.idle:
            self._discard(self.idle.pop())


def parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """Status, headers (lower-case names; repeated ones joined with ", ") and whether the
    connection stays open, from a head ending in a blank line; AnswerError when malformed."""
    lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not (code.isdigit() and code.isascii()):
        raise AnswerError(f"upstream sent a malformed status line {lines[0][:60]!r}")
    if len(rest) > 3 and rest[3] != " ":
        raise AnswerError(f"upstream sent a malformed status line {lines[0][:60]!r}")
    if len(lines) - 1 > MAX_HEADERS:
        raise AnswerError(f"upstream sent more than {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[0] in " \t":
            raise AnswerError(f"upstream sent a malformed header line {line[:60]!r}")
        key, value = name.lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
    return int(code), headers, keep


def content_length(value: str | None) -> int:
    """The Content-Length value (repeats must agree); AnswerError when absent or bad."""
    if value is None:
        raise AnswerError("upstream answer has neither Content-Length nor chunked encoding")
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise AnswerError(f"upstream sent conflicting Content-Length values {value[:60]!r}")
    (text,) = values
    if not (text.isdigit() and text.isascii()):
        raise AnswerError(f"upstream sent a bad Content-Length {text[:40]!r}")
    return int(text)


async def read_chunked(connection: Connection, max_bytes: int) -> bytes:
    """A chunked body: size lines (hex, extensions ignored), data, then trailers up to the
    blank line; AnswerError on bad framing or past `max_bytes`."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = await connection.until(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or not set(size_text) <= _HEX:
            raise AnswerError(f"upstream sent a bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > max_bytes:
            raise AnswerError(f"upstream answer exceeds {max_bytes} bytes")
        chunk = await connection.exactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise AnswerError("upstream chunk is not followed by CRLF")
        parts.append(chunk[:-2])
    for _ in range(MAX_HEADERS + 1):
        if await connection.until(b"\r\n") == b"\r\n":
            return b"".join(parts)  # trailers, if any, were read and ignored
    raise AnswerError(f"upstream sent more than {MAX_HEADERS} trailer lines")


def _closed_reason(exc: BaseException) -> str:
    """Why a connection ended before the answer: closed or reset by the peer."""
    if isinstance(exc, OSError):
        return os_reason(exc)
    return "closed by the peer"


def os_reason(exc: OSError) -> str:
    """A short lower-case reason for an OS-level error: the errno's text ("connection
    refused"), the resolver's for a name that does not resolve, else the first line."""
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror.lower()
    if exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno).lower()
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
