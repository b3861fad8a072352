"""`redwatch ip fingerprint / compare`: fingerprint a never-watermarked model, then tell
whether a suspect is derived from it (copied, fine-tuned, pruned, extracted) or independent.

compare exits 0 when the suspect is derived from the model, 1 when it is independent or the
test is inconclusive, and 2 for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from redwatch.cli.console import parse_shape
from redwatch.engine.data import align, load_csv
from redwatch.exceptions import UsageError
from redwatch.integrity.digest import sha256_file
from redwatch.ip.fingerprint import (
    FingerprintSettings,
    IPFingerprint,
    build_ip_fingerprint,
    compare_ip_fingerprint,
    load_ip_fingerprint,
    save_ip_fingerprint,
)
from redwatch.ip.fingerprint_calibrate import DERIVED, Comparison
from redwatch.ip.keys import public_key_hex, read_key
from redwatch.targets.base import Target
from redwatch.targets.loading import load_target

_MODEL_HELP = "Model file or 'module:attr'."


def fingerprint(
    model: str = typer.Argument(..., help=_MODEL_HELP),
    data: Path = typer.Option(..., "--data", help="CSV with a header row (features + label)."),
    label: str | None = typer.Option(None, "--label", help="Label column (true labels)."),
    out_path: Path = typer.Option(..., "--out", help="Fingerprint JSON to write."),
    points: int = typer.Option(100, "--points", help="Number of fingerprint points."),
    references: int = typer.Option(
        10,
        "--references",
        help="Independent reference models to train (half choose, half calibrate).",
    ),
    key: str | None = typer.Option(None, "--key", help="Sign with this key (env:NAME or file)."),
    seed: int = typer.Option(0, "--seed"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
) -> None:
    """Choose boundary points that tell copies of MODEL from independent models."""
    secret = read_key(key) if key else None
    shape = parse_shape(input_shape)
    settings = FingerprintSettings(points=points, references=references, seed=seed)
    target = _load(model, trust_model, model_class, shape)
    fp = _build(target, model, data, label, settings, shape)
    save_ip_fingerprint(fp, out_path, secret)
    cal = fp.calibration
    typer.echo(
        f"fingerprint of {model}: {len(fp.labels)} points; independent references match "
        f"{_rates(cal.null.references)}, derived controls {_rates(cal.derived)}; "
        f"'derived' from a matching rate of {cal.threshold:.2f}"
    )
    if fp.scores is not None:
        sc = fp.scores.calibration
        typer.echo(
            f"scores recorded: points within the owner radius for independent references "
            f"{_rates(sc.null.references)}, derived controls {_rates(sc.derived)}; "
            f"'derived' from {sc.threshold:.2f}"
        )
    if not cal.separable:
        typer.echo("warning: some derived controls stay below the threshold (see docs)")
    signed = f", signed by {public_key_hex(secret)[:16]}..." if secret else ""
    typer.echo(f"written to {out_path}{signed}")


def compare(
    first: str = typer.Argument(..., help="SUSPECT with --fingerprint; MODEL with --data."),
    second: str | None = typer.Argument(None, help="SUSPECT (with --data)."),
    fingerprint_path: Path | None = typer.Option(None, "--fingerprint", help="Fingerprint JSON."),
    data: Path | None = typer.Option(None, "--data", help="CSV to fingerprint MODEL on the fly."),
    label: str | None = typer.Option(None, "--label", help="Label column of --data."),
    key: str | None = typer.Option(
        None, "--key", help="Require the fingerprint to be signed by this key."
    ),
    points: int = typer.Option(100, "--points", help="Points (on-the-fly fingerprint)."),
    references: int = typer.Option(10, "--references", help="References (on the fly)."),
    seed: int = typer.Option(0, "--seed"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Is SUSPECT derived from the model? Exit 0 derived, 1 independent/inconclusive, 2 usage."""
    owner, suspect = _roles(first, second, fingerprint_path, data)
    shape = parse_shape(input_shape)
    signed = False
    if fingerprint_path is not None:
        public = public_key_hex(read_key(key)) if key else None
        fp, signed = load_ip_fingerprint(fingerprint_path, public)
        recorded = fp.model.get("input_shape")
        shape = shape or (tuple(int(d) for d in recorded) if recorded else None)
    else:
        assert owner is not None
        assert data is not None
        settings = FingerprintSettings(points=points, references=references, seed=seed)
        fp = _build(
            _load(owner, trust_model, model_class, shape), owner, data, label, settings, shape
        )
    result = compare_ip_fingerprint(_load(suspect, trust_model, model_class, shape), fp)
    if as_json:
        typer.echo(json.dumps(_report(suspect, fp, result, signed), indent=1))
    else:
        typer.echo(
            f"{suspect} vs {fp.model.get('source') or fp.model.get('name')}: {result.summary()}"
        )
    if result.decision != DERIVED:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add fingerprint and compare to the `redwatch ip` group."""
    app.command("fingerprint")(fingerprint)
    app.command("compare")(compare)


def _roles(
    first: str, second: str | None, fingerprint_path: Path | None, data: Path | None
) -> tuple[str | None, str]:
    """(owner model or None, suspect) from the arguments; UsageError for a mix-up."""
    if fingerprint_path is not None:
        if second is not None or data is not None:
            raise UsageError("with --fingerprint give only the SUSPECT (no MODEL, no --data)")
        return None, first
    if second is None or data is None:
        raise UsageError("give SUSPECT --fingerprint FP.json, or MODEL SUSPECT --data FILE")
    return first, second


def _build(
    target: Target,
    model: str,
    data: Path,
    label: str | None,
    settings: FingerprintSettings,
    shape: tuple[int, ...] | None,
) -> IPFingerprint:
    """Fingerprint a loaded model on a labelled CSV."""
    if label is None:
        raise UsageError("--label is needed: reference models are trained on the true labels")
    dataset = align(load_csv(data, label), target.feature_names, target.n_features)
    assert dataset.y_raw is not None
    y = target.encode_labels(dataset.y_raw)
    description = {"source": model, "sha256": _sha256(model), "data": dataset.source}
    return build_ip_fingerprint(
        target, dataset.x, y, settings, input_shape=shape, description=description
    )


def _load(
    model: str, trust_model: bool, model_class: str | None, shape: tuple[int, ...] | None
) -> Target:
    return load_target(
        model, name=model, trust_model=trust_model, model_class=model_class, input_shape=shape
    )


def _report(suspect: str, fp: IPFingerprint, result: Comparison, signed: bool) -> dict[str, Any]:
    """The JSON printed by compare --json."""
    return {
        "suspect": {"source": suspect, "sha256": _sha256(suspect)},
        "model": fp.model,
        "fingerprint_signed": signed,
        **result.to_dict(),
        "calibration": fp.calibration.to_dict(),
    }


def _rates(refs: Any) -> str:
    rates = [r.agreed / r.trials for r in refs]
    return f"{min(rates):.2f}-{max(rates):.2f}" if rates else "-"


def _sha256(model: str) -> str | None:
    path = Path(model)
    if not path.is_file():
        return None
    return "sha256:" + sha256_file(path)
