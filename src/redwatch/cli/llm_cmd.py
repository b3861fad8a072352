"""`redwatch llm reference-app`: serve the reference chat app, a TEST DOUBLE with scripted
behaviour (not a language model) that plays a support bot with planted weaknesses, so that
`redwatch scan URL --kind chat` and the chat guard proxy can be tried offline. The port is
bound before the server starts (a taken port is one line, exit 2); SIGTERM / SIGINT stop
it cleanly with exit 0."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import typer
import uvicorn

from redwatch.cli.serving import authority, bind_listener, on_stop_signals

app = typer.Typer(
    help="LLM applications: the reference chat app (a scripted test double).",
    no_args_is_help=True,
)
GRACEFUL_S = 5


@app.command("reference-app")
def reference_app(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0: any free one)."),
    show_system_prompt: bool = typer.Option(
        False, "--show-system-prompt", help="Print the app's built-in system prompt and exit."
    ),
) -> None:
    """Serve the reference chat app (scripted test double) until SIGTERM / SIGINT."""
    from redwatch.demo.chat_brain import REFERENCE_SYSTEM_PROMPT

    if show_system_prompt:
        typer.echo(REFERENCE_SYSTEM_PROMPT)
        return
    sock = bind_listener(host, port)
    base = f"http://{authority(host, sock)}"
    ready = (
        f"redwatch llm: reference app (a scripted test double, not a language model) "
        f"serving on {base}/v1 (chat app: {base}/api/chat, login demo/demo)"
    )
    with sock:
        _serve(sock, ready)
    print("redwatch llm: reference app stopped", flush=True)


class _ReadyServer(uvicorn.Server):
    """uvicorn's server that prints the ready line once it accepts connections, and stops
    at once when a stop signal came before it started."""

    def __init__(self, config: uvicorn.Config, ready: str, noted: list[int]) -> None:
        super().__init__(config)
        self.ready = ready
        self.noted = noted

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, then announce it (or stop when a signal came first)."""
        await super().startup(sockets=sockets)
        if self.noted:
            self.should_exit = True
        elif self.started:
            print(self.ready, flush=True)


@contextmanager
def _noted_signals() -> Iterator[list[int]]:
    """SIGTERM / SIGINT noted instead of killing: uvicorn handles them itself and raises
    them again after its shutdown, which must end in exit 0."""
    noted: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        noted.append(signum)

    with on_stop_signals(note):
        yield noted


def _serve(sock: socket.socket, ready: str) -> None:
    """The app on the bound socket until a stop signal."""
    from redwatch.demo.chat_app import build_reference_app

    config = uvicorn.Config(
        build_reference_app(),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_S,
        server_header=False,
    )
    with _noted_signals() as noted:
        _ReadyServer(config, ready, noted).run(sockets=[sock])
