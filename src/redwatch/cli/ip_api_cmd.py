"""`redwatch ip verify-api`: prove that a suspect model was trained on the guarded API's
answers, from the guard's keyed watermark records (docs/ip-api.md).

Exit 0 when ownership is shown, 1 when the test ran and does not show it, 2 for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from redwatch.cli.console import open_store, parse_shape
from redwatch.exceptions import DataError, UsageError
from redwatch.guard.watermark_record import MAX_RATE
from redwatch.ip.api_verify import ApiVerification, LogItems, RecordSet, parse_log, select_records
from redwatch.ip.api_verify import verify_api as run_verification
from redwatch.ip.certificate import describe_suspect, write_certificate
from redwatch.ip.keys import read_key
from redwatch.targets.base import Target
from redwatch.targets.loading import load_target

STORE = "store"
STORE_LIMIT = 10_000_000


def verify_api(
    surrogate: str = typer.Argument(..., help="Suspect model file (or 'module:attr')."),
    key_spec: str = typer.Option(..., "--key", help="Owner key: a key file or env:NAME."),
    log: str = typer.Option(
        ..., "--log", help="Watermark records: JSON lines, events, an events array, or 'store'."
    ),
    db: str | None = typer.Option(None, "--db", help="Store URL for --log store."),
    rate: float = typer.Option(MAX_RATE, "--rate", help="The watermark stage's rate."),
    references: list[str] = typer.Option(
        [], "--reference", help="Independently trained model (repeatable): measures the null."
    ),
    alpha: float = typer.Option(1e-6, "--alpha", help="Significance level of the claim."),
    out_path: Path | None = typer.Option(None, "--out", help="Certificate JSON to write."),
    report_path: Path | None = typer.Option(None, "--report", help="Markdown report to write."),
    as_json: bool = typer.Option(False, "--json", help="Print the certificate as JSON."),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
) -> None:
    """Test a suspect on the guard's watermark records; exit 0 shown, 1 not shown."""
    if not 0.0 < rate <= MAX_RATE:
        raise UsageError(f"--rate must be in (0, {MAX_RATE}], got {rate}")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    key = read_key(key_spec)
    found = select_records(_read_log(log, db), key, rate)
    shape = parse_shape(input_shape)
    target = _load(surrogate, trust_model, model_class, shape)
    refs = [_load(ref, trust_model, model_class, shape) for ref in references]
    suspect = describe_suspect(target, surrogate)
    result = run_verification(target, found, key, suspect=suspect, references=refs, alpha=alpha)
    write_certificate(result.certificate, out_path, report_path)
    if as_json:
        typer.echo(json.dumps(result.certificate, indent=1))
    else:
        _print(surrogate, found, result, out_path, report_path)
    if not result.test.shown:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add verify-api to the `redwatch ip` group."""
    app.command("verify-api")(verify_api)


def _read_log(log: str, db: str | None) -> LogItems:
    """The log's items: watermark events from the store, or a file decoded by parse_log."""
    if log == STORE:
        with open_store(db) as store:
            rows = store.list_events(kind="watermark", limit=STORE_LIMIT)
        return LogItems(rows, 0, STORE)
    if db is not None:
        raise UsageError("--db applies only to --log store")
    path = Path(log)
    if not path.is_file():
        raise DataError(f"watermark log not found: {log}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read watermark log {log}: {exc}") from None
    return parse_log(text, log)


def _load(ref: str, trust: bool, model_class: str | None, shape: tuple[int, ...] | None) -> Target:
    """A model through the safe loader."""
    return load_target(ref, name=ref, trust_model=trust, model_class=model_class, input_shape=shape)


def _print(
    surrogate: str,
    found: RecordSet,
    result: ApiVerification,
    out_path: Path | None,
    report_path: Path | None,
) -> None:
    """A short human summary."""
    test, ev = result.test, result.certificate["evidence"]
    left = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in found.rejected.items())
    typer.echo(
        f"{len(found.records)} watermark record(s) verify under key {ev['key_id']} "
        f"(rejected: {left or 'none'}; duplicates: {found.duplicates})"
    )
    span = ev["time_range"]
    typer.echo(
        f"  from {found.source}: {ev['clients_seen']} client(s), {span['first']} .. {span['last']}"
    )
    typer.echo(
        f"{surrogate} repeats the served label on {test.agreed} of {test.trials} "
        f"({test.agreement:.1%}); the original label on {ev['suspect_gave_original_label']}"
    )
    typer.echo(
        f"null rate {test.null.rate:.3g} ({test.null.method}); p-value {test.p_value:.3g}; "
        f"verdict: {test.verdict} (alpha {test.alpha:g})"
    )
    for what, path in (("certificate", out_path), ("report", report_path)):
        if path is not None:
            typer.echo(f"{what} written to {path}")
