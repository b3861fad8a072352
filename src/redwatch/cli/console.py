"""Shared CLI plumbing: consoles, rich progress bars, the store, and severity colours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from redwatch.config import Settings
from redwatch.exceptions import UsageError

if TYPE_CHECKING:
    from redwatch.store.repository import Store

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


@contextmanager
def progress_bar(name: str) -> Iterator[Callable[[float, str], None]]:
    """A rich progress bar on stderr for one long step; yields the update callback."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=not err.is_terminal,
    ) as bar:
        task = bar.add_task(name, total=1.0)

        def update(fraction: float, message: str) -> None:
            bar.update(
                task, completed=min(max(fraction, 0.0), 1.0), description=f"{name} · {message}"
            )

        yield update


def open_store(db: str | None = None) -> Store:
    """The store named by `db` (a --db option), else by REDWATCH_DB_URL, else the SQLite
    file under REDWATCH_HOME."""
    from redwatch.store.repository import Store  # SQLAlchemy: only for commands that store

    return Store.open(db or Settings.from_env().db_url)


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """--input-shape "1,28,28" (or "1x28x28") as a tuple; UsageError naming the option."""
    if not text:
        return None
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"--input-shape must be integers like 1,28,28, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise UsageError(f"--input-shape must be positive integers, got {text!r}")
    return shape
