"""`redwatch integrity fingerprint / check`: record a model's behavior on canaries, then tell
whether a model still behaves the same.

check exits 0 when every canary answers within its tolerance, 1 on drift (the moved canaries
are listed), and 2 for usage errors, unreadable files or models that cannot be loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from redwatch.cli.console import parse_shape
from redwatch.engine.data import align, load_csv
from redwatch.integrity.digest import sha256_file
from redwatch.integrity.fingerprint import (
    FingerprintCheck,
    build_fingerprint,
    check_fingerprint,
    load_fingerprint,
    save_fingerprint,
)
from redwatch.targets.base import Target
from redwatch.targets.loading import load_target

SHOWN_MOVES = 20


def fingerprint(
    model: str = typer.Argument(..., help="Model file or 'module:attr'."),
    data: Path = typer.Option(..., "--data", help="CSV with a header row to draw canaries from."),
    label: str | None = typer.Option(None, "--label", help="Label column to leave out."),
    out_path: Path = typer.Option(..., "--out", help="Fingerprint JSON to write."),
    canaries: int = typer.Option(128, "--canaries", min=1, help="Number of canaries."),
    boundary_fraction: float = typer.Option(
        0.5, "--boundary-fraction", min=0.0, max=1.0, help="Share of boundary-near canaries."
    ),
    outputs: str = typer.Option("auto", "--outputs", help="auto, scores or labels."),
    seed: int = typer.Option(0, "--seed"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
) -> None:
    """Record the model's outputs on seeded data and boundary-near canaries."""
    shape = parse_shape(input_shape)
    target = _load(model, trust_model, model_class, shape)
    dataset = align(load_csv(data, label), target.feature_names, target.n_features)
    fp = build_fingerprint(
        target,
        dataset.x,
        n_canaries=canaries,
        seed=seed,
        boundary_fraction=boundary_fraction,
        outputs=outputs,
        description=_description(model, shape, dataset.source),
    )
    save_fingerprint(fp, out_path)
    counts = fp.counts
    typer.echo(
        f"fingerprint of {model}: {counts['data']} data + {counts['boundary']} boundary "
        f"canaries ({fp.outputs}), {target.queries} queries; written to {out_path}"
    )


def check(
    model: str = typer.Argument(..., help="Model file or 'module:attr'."),
    fingerprint_path: Path = typer.Option(..., "--fingerprint", help="Fingerprint JSON."),
    input_shape: str | None = typer.Option(
        None, "--input-shape", help="e.g. 1,28,28 (default: the one recorded)"
    ),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a model against a fingerprint: exit 0 match, 1 drift, 2 usage."""
    fp = load_fingerprint(fingerprint_path)
    recorded = fp.model.get("input_shape")
    shape = parse_shape(input_shape) or (tuple(int(d) for d in recorded) if recorded else None)
    target = _load(model, trust_model, model_class, shape)
    result = check_fingerprint(target, fp)
    file_note = _file_note(model, fp.model.get("sha256"))
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "model_file": file_note}, indent=1))
    else:
        _print(model, result, file_note)
    if not result.matches:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add fingerprint and check to the `redwatch integrity` group."""
    app.command("fingerprint")(fingerprint)
    app.command("check")(check)


def _load(
    model: str, trust_model: bool, model_class: str | None, shape: tuple[int, ...] | None
) -> Target:
    return load_target(
        model, name=model, trust_model=trust_model, model_class=model_class, input_shape=shape
    )


def _description(model: str, shape: tuple[int, ...] | None, data: str) -> dict[str, Any]:
    """What the fingerprint records about where it came from (the file digest is a hint for
    humans: behavior, not bytes, decides the verdict)."""
    path = Path(model)
    return {
        "source": model,
        "sha256": sha256_file(path) if path.is_file() else None,
        "input_shape": list(shape) if shape else None,
        "data": data,
    }


def _file_note(model: str, recorded: Any) -> str | None:
    path = Path(model)
    if not path.is_file() or not recorded:
        return None
    return "unchanged" if sha256_file(path) == recorded else "changed"


def _print(model: str, result: FingerprintCheck, file_note: str | None) -> None:
    typer.echo(f"{model}: {result.summary()}")
    worst_first = sorted(result.moved, key=lambda m: -m.delta)
    for move in worst_first[:SHOWN_MOVES]:
        typer.echo(f"  {_move_line(move.to_dict())}")
    if len(result.moved) > SHOWN_MOVES:
        typer.echo(f"  ... and {len(result.moved) - SHOWN_MOVES} more (--json lists all)")
    if file_note == "changed":
        typer.echo("note: the model file's bytes differ from the fingerprinted file")


def _move_line(move: dict[str, Any]) -> str:
    head = f"canary {move['index']} ({move['kind']})"
    if isinstance(move["expected"], list):
        return (
            f"{head}: max score change {move['delta']:.3g} > tolerance {move['tolerance']:.3g}"
            + ("; label changed" if move["label_changed"] else "")
        )
    return f"{head}: label {move['expected']} -> {move['got']}"
