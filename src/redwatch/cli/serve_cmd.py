"""`redwatch serve`: the always-on service (REST API, scheduler, monitoring, alerts,
dashboard) on uvicorn. Options, the port and the store are checked before it starts, so a
mistake is one line and exit 2; SIGTERM / SIGINT close every part and exit 0."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
import uvicorn

from redwatch.cli.serving import authority, bind_listener, on_stop_signals
from redwatch.exceptions import UsageError, first_line

GRACEFUL_S = 10  # how long requests in flight may finish after SIGTERM
FIRST_KEY_HINT = (
    "no admin key yet: create the first one with "
    "`redwatch keys create --name NAME --role admin` (same --db)"
)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8700, "--port", min=0, max=65535, help="Port (0: any free one)."),
    db: str | None = typer.Option(
        None, "--db", help="Store URL (default: REDWATCH_DB_URL, else SQLite under REDWATCH_HOME)."
    ),
    alerts: Path | None = typer.Option(None, "--alerts", help="Alerting YAML: rules and sinks."),
    tick: float = typer.Option(2.0, "--tick", help="Seconds between scheduler/monitor ticks."),
    executor: str = typer.Option("local", "--executor", help="Campaign executor: local or ray."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster (ray://host:port); default: a local Ray."
    ),
    no_worker: bool = typer.Option(False, "--no-worker", help="Serve without running campaigns."),
    files_root: Path | None = typer.Option(
        None, "--files-root", help="Folder every model/data path named through the API must be in."
    ),
) -> None:
    """Run the service until SIGTERM / SIGINT."""
    settings = service_settings(db, alerts, tick, executor, ray_address, not no_worker)
    if files_root is not None:
        if not files_root.is_dir():
            raise UsageError(f"--files-root: no folder {files_root}")
        settings = settings.model_copy(update={"files_root": files_root.resolve()})
    from redwatch.store.repository import Store

    sock = bind_listener(host, port)
    with sock:
        store = Store.open(settings.db_url, timeout_s=10.0)
        announce(store, host, sock)
        run(settings, store, sock)
    print("redwatch serve: stopped", flush=True)


def service_settings(
    db: str | None,
    alerts: Path | None,
    tick: float,
    executor: str,
    ray_address: str | None,
    run_worker: bool,
) -> Any:
    """ServiceSettings from the options and the environment; UsageError on a bad one."""
    from pydantic import ValidationError

    from redwatch.config import first_error
    from redwatch.service.settings import ServiceSettings

    if executor not in ("local", "ray"):
        raise UsageError(f"--executor must be local or ray, got {executor!r}")
    if ray_address is not None and executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    if alerts is not None and not alerts.is_file():
        raise UsageError(f"--alerts: no file {alerts}")
    overrides: dict[str, Any] = {
        "alerts_file": alerts,
        "tick_s": tick,
        "executor": executor,
        "ray_address": ray_address,
        "run_worker": run_worker,
    }
    if db:
        overrides["db_url"] = db
    try:
        return ServiceSettings.from_env(**overrides)
    except ValidationError as exc:
        raise UsageError(f"bad option: {first_error(exc)}") from None


def announce(store: Any, host: str, sock: socket.socket) -> None:
    """Print where the service listens and, on a fresh install, how to get the first key."""
    from redwatch.service.keys import count_admins

    where = authority(host, sock)
    print(f"redwatch serve: listening on http://{where} (store {store.url})", flush=True)
    if count_admins(store) == 0:
        print(f"redwatch serve: {FIRST_KEY_HINT}", flush=True)


def run(settings: Any, store: Any, sock: socket.socket) -> None:
    """uvicorn on the bound socket until a stop signal; UsageError when it did not start."""
    from redwatch.service.app import create_app

    log_to_stderr()
    app = create_app(settings, store)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=GRACEFUL_S
    )
    logging.getLogger("uvicorn.error").addFilter(one_line_errors)
    with stop_signals() as noted:
        server = ServiceServer(config, noted)
        server.run(sockets=[sock])
    if not server.started:
        raise UsageError("the service did not start (the reason is logged above)")


class ServiceServer(uvicorn.Server):
    """uvicorn's server that stops right after starting when a stop signal came earlier."""

    def __init__(self, config: uvicorn.Config, noted: list[int]) -> None:
        super().__init__(config)
        self.noted = noted

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving; exit at once if SIGTERM / SIGINT arrived before uvicorn's handlers."""
        await super().startup(sockets=sockets)
        if self.noted:
            self.should_exit = True


def one_line_errors(record: logging.LogRecord) -> bool:
    """Logging filter: a log record's traceback becomes one line naming the exception."""
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        record.msg = f"{record.getMessage()}: {type(exc).__name__}: {first_line(exc)}"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
    return True


def log_to_stderr() -> None:
    """redwatch's own log records (parts, alerts) to stderr with a timestamp, INFO and up."""
    logger = logging.getLogger("redwatch")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(one_line_errors)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@contextmanager
def stop_signals() -> Iterator[list[int]]:
    """Ignore-after-noting SIGTERM / SIGINT around uvicorn: uvicorn handles them itself and
    re-raises them once it has shut down; that re-raise must end in exit 0, not a kill."""
    noted: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        noted.append(signum)

    with on_stop_signals(note):
        yield noted
