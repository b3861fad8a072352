"""The `redwatch` command. Every deliberate error becomes one line on stderr and exit 2.

Exit codes: 0 success / nothing at or above --fail-on; 1 findings at or above --fail-on;
2 usage, input, config or target error; 3 an internal error (a bug: please report it)."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from functools import partial

import typer

from redwatch.exceptions import RedwatchError

_SCAN_LIKE = {
    "scan": "scan_cmd",
    "report": "report_cmd",
    "demo": "demo_cmd",
    "harden": "harden_cmd",
    "audit": "audit_cmd",
    "serve": "serve_cmd",
}
_GROUPS = {
    "probes": "probes_cmd",
    "findings": "findings_cmd",
    "integrity": "integrity_cmd",
    "keys": "keys_cmd",
    "incidents": "incidents_cmd",
    "llm": "llm_cmd",
}
_GUARD_PARTS = (
    ("policy", "guard_policy_cmd", "policy"),
    ("verify", "guard_policy_cmd", "verify"),
    ("keygen", "guard_keys_cmd", "keygen"),
    ("events", "guard_events_cmd", "events"),
    ("replay", "guard_events_cmd", "replay"),
    ("chat-proxy", "guard_chat_cmd", "chat_proxy"),
)


def _module(name: str) -> object:
    """A command module of redwatch.cli, imported on demand."""
    return importlib.import_module(f"redwatch.cli.{name}")


def _add_guard(app: typer.Typer) -> None:
    """`redwatch guard` and the sub-commands that live in their own modules."""
    guard = _module("guard_cmd").app  # type: ignore[attr-defined]
    known = {c.name for c in guard.registered_commands}
    for command, module, attr in _GUARD_PARTS:
        if command not in known:  # main() may run more than once in one process (tests)
            guard.command(command)(getattr(_module(module), attr))
    app.add_typer(guard, name="guard")


def _add_command(name: str, module: str, app: typer.Typer) -> None:
    """A single command whose function has the command's name."""
    app.command(name)(getattr(_module(module), name))


def _add_group(name: str, module: str, app: typer.Typer) -> None:
    """A command group: the module's `app` Typer."""
    app.add_typer(_module(module).app, name=name)  # type: ignore[attr-defined]


def _registrars() -> dict[str, Callable[[typer.Typer], None]]:
    """Top-level command name -> a function that imports and registers it."""
    table: dict[str, Callable[[typer.Typer], None]] = {}
    for name, module in _SCAN_LIKE.items():
        table[name] = partial(_add_command, name, module)
    for name, module in {**_GROUPS, "ip": "ip_cmd", "data": "data_cmd"}.items():
        table[name] = partial(_add_group, name, module)
    table["guard"] = _add_guard
    return table


def build_app(command: str | None = None) -> typer.Typer:
    """The CLI with every command, or only `command` when it names one: each command
    module imports its own stack (scipy, SQLAlchemy, torch …), so a command that does not
    run should not cost start-up time."""
    app = typer.Typer(
        name="redwatch",
        help="Always-on red team and runtime defense for machine-learning models.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name, register in _registrars().items():
        if command is None or command == name:
            register(app)
    return app


def _command_name(argv: list[str]) -> str | None:
    """The top-level command in argv (its first non-option word), when it is a known one."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in _registrars() else None


def _print_version(value: bool) -> None:
    if value:
        from redwatch import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        is_eager=True,
        callback=_print_version,
    ),
) -> None:
    """redwatch: attack your own models before adversaries do."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map errors to exit codes."""
    args = sys.argv[1:] if argv is None else argv
    app = build_app(_command_name(args))
    try:
        code = app(args=args, prog_name="redwatch", standalone_mode=False)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.exceptions.TyperException as exc:  # usage errors from argument parsing
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(2)  # the help text was printed already
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _fail(f"{message}{hint}", 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except RedwatchError as exc:
        _fail(str(exc), 2)
    except Exception as exc:
        if os.environ.get("REDWATCH_DEBUG"):
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc} (set REDWATCH_DEBUG=1 for details)", 3)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    first = (message.strip().splitlines() or ["error"])[0]
    print(f"redwatch: error: {first}", file=sys.stderr)
    sys.exit(code)
