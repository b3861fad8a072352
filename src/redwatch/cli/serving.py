"""Plumbing of the commands that serve HTTP (`redwatch serve`, `redwatch guard`): the listening
socket, bound before the server starts so that a taken port is one line and exit 2, and the
stop signals, handled by the command around uvicorn's own handling."""

from __future__ import annotations

import errno
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from redwatch.exceptions import UsageError

BACKLOG = 2048
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def bind_listener(host: str, port: int, *, inheritable: bool = False) -> socket.socket:
    """A listening TCP socket on host:port; UsageError when the host cannot be resolved, the
    port is taken or the address cannot be used. `inheritable` lets child processes use it."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host: cannot resolve {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"--port: {host}:{port} is already in use") from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if inheritable:
        sock.set_inheritable(True)
    return sock


def authority(host: str, sock: socket.socket) -> str:
    """host:port as clients reach it (the real port when port 0 picked one; IPv6 bracketed)."""
    port = sock.getsockname()[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextmanager
def on_stop_signals(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Handle SIGINT / SIGTERM with `handler` inside the block; the previous handlers after."""
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
