"""The `redwatch` command. Every deliberate error becomes one line on stderr and exit 2.

Exit codes: 0 success / nothing at or above --fail-on; 1 findings at or above --fail-on;
2 usage, input, config or target error; 3 an internal error (a bug: please report it)."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from redwatch.cli import (
    data_cmd,
    demo_cmd,
    findings_cmd,
    guard_cmd,
    guard_events_cmd,
    guard_keys_cmd,
    guard_policy_cmd,
    harden_cmd,
    integrity_cmd,
    ip_cmd,
    probes_cmd,
    report_cmd,
    scan_cmd,
)
from redwatch.exceptions import RedwatchError

app = typer.Typer(
    name="redwatch",
    help="Always-on red team and runtime defense for machine-learning models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("scan")(scan_cmd.scan)
app.command("report")(report_cmd.report)
app.command("demo")(demo_cmd.demo)
app.command("harden")(harden_cmd.harden)
app.add_typer(probes_cmd.app, name="probes")
app.add_typer(findings_cmd.app, name="findings")
app.add_typer(integrity_cmd.app, name="integrity")
guard_cmd.app.command("policy")(guard_policy_cmd.policy)
guard_cmd.app.command("verify")(guard_policy_cmd.verify)
guard_cmd.app.command("keygen")(guard_keys_cmd.keygen)
guard_cmd.app.command("events")(guard_events_cmd.events)
guard_cmd.app.command("replay")(guard_events_cmd.replay)
app.add_typer(guard_cmd.app, name="guard")
app.add_typer(ip_cmd.app, name="ip")
app.add_typer(data_cmd.app, name="data")


def _print_version(value: bool) -> None:
    if value:
        from redwatch import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


@app.callback()
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
    try:
        code = app(args=argv, prog_name="redwatch", standalone_mode=False)
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
