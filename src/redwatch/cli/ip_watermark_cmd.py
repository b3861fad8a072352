"""`redwatch ip watermark`: derive a secret trigger set from the key, train it into a copy of
the model, measure the null agreement rate on independently trained reference models, and
write the watermarked model (in its input format) with a signed commitment beside it.

Exit 0 on success, 2 on bad input. Nothing is half-written: the model is staged next to
--out and moved into place only after the commitment has been written.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer

from redwatch.cli.console import parse_shape
from redwatch.engine.data import align, load_csv
from redwatch.exceptions import DataError, UsageError
from redwatch.guard.watermark_record import plain_label
from redwatch.ip.commitment import build_commitment, file_digest, reference_null
from redwatch.ip.embed import EmbedResult, embed_watermark
from redwatch.ip.keys import read_key
from redwatch.ip.recipe import predict_labels, raw_model
from redwatch.ip.signed import write_json_atomic
from redwatch.ip.stats import NullEstimate, ownership_test
from redwatch.ip.triggers import KINDS, TriggerSet, derive_triggers
from redwatch.targets.base import Target
from redwatch.targets.loading import load_target


@dataclass
class _Loaded:
    """The model and labelled data a watermark run works on."""

    target: Target
    raw: Any
    x: np.ndarray
    y: np.ndarray
    n_classes: int
    shape: tuple[int, ...] | None


def watermark(
    model: str = typer.Argument(..., help="Model file (scikit-learn API or PyTorch)."),
    data: Path = typer.Option(..., "--data", help="Labelled training CSV with a header row."),
    label: str = typer.Option(..., "--label", help="Label column of --data."),
    key_spec: str = typer.Option(..., "--key", help="Key file or env:NAME."),
    out: Path = typer.Option(..., "--out", help="Watermarked model file to write."),
    commitment: Path | None = typer.Option(
        None, "--commitment", help="Commitment JSON (default: OUT.commitment.json)."
    ),
    n_triggers: int = typer.Option(100, "--triggers", min=1, help="Trigger set size."),
    epochs: int = typer.Option(3, "--epochs", min=1, help="Fine-tuning epochs (PyTorch)."),
    references: int = typer.Option(5, "--references", min=1, help="Reference models (null)."),
    reference_epochs: int = typer.Option(
        5, "--reference-epochs", min=1, help="Training epochs of each PyTorch reference."
    ),
    kind: str = typer.Option("auto", "--kind", help="Trigger kind: auto, image or table."),
    share: float | None = typer.Option(
        None, "--trigger-share", help="Triggers' share of training (default 0.03 refit, 0.1 torch)."
    ),
    holdout: float = typer.Option(0.2, "--holdout", help="Share of rows held out."),
    seed: int = typer.Option(0, "--seed"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    model_class: str | None = typer.Option(None, "--model-class", help="pkg.mod:Class"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
) -> None:
    """Embed a key-derived trigger-set watermark and write a signed commitment."""
    key = read_key(key_spec)
    commit_path = commitment or out.with_name(out.name + ".commitment.json")
    _check_paths(model, out, commit_path)
    loaded = _load(model, data, label, parse_shape(input_shape), trust_model, model_class)
    triggers = _triggers(key, loaded, _kind(kind, loaded), n_triggers)
    result = embed_watermark(
        loaded.raw,
        loaded.x,
        loaded.y,
        triggers,
        seed=seed,
        epochs=epochs,
        holdout=holdout,
        trigger_share=share,
        input_shape=loaded.shape,
    )
    null = reference_null(
        loaded.raw,
        loaded.x,
        loaded.y,
        triggers,
        n=references,
        seed=seed,
        epochs=reference_epochs,
        input_shape=loaded.shape,
    )
    doc = _write(key, model, out, commit_path, loaded, triggers, result, null, model_class)
    _summary(model, out, commit_path, triggers, result, doc)


def register(app: typer.Typer) -> None:
    """Add `watermark` to the `redwatch ip` group."""
    app.command("watermark")(watermark)


def _check_paths(model: str, out: Path, commit_path: Path) -> None:
    """Usage problems with the output paths, found before any work is done."""
    if out.resolve() == Path(model).resolve():
        raise UsageError("--out must differ from the input model (the original stays as it is)")
    if commit_path.resolve() in (out.resolve(), Path(model).resolve()):
        raise UsageError("--commitment must differ from the model files")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give the model file to write")


def _load(
    model: str,
    data: Path,
    label: str,
    shape: tuple[int, ...] | None,
    trust_model: bool,
    model_class: str | None,
) -> _Loaded:
    """The model (safely loaded), its trainable object, and the data as class indices."""
    if model.startswith(("http://", "https://")):
        raise UsageError("redwatch ip watermark needs the model file, not an endpoint URL")
    target = load_target(
        model, name=model, trust_model=trust_model, model_class=model_class, input_shape=shape
    )
    raw = raw_model(target)
    dataset = align(load_csv(data, label), target.feature_names, target.n_features)
    if dataset.y_raw is None or len(dataset.x) < 10:
        raise DataError(f"{data} needs at least 10 labelled rows to embed a watermark")
    y = target.encode_labels(dataset.y_raw)
    probe = target.predict_proba(dataset.x[:1]) if target.capabilities.scores else None
    k = len(target.classes) if target.classes is not None else None
    k = k or (probe.shape[1] if probe is not None else int(y.max()) + 1)
    return _Loaded(target, raw, dataset.x, y, k, shape)


def _kind(kind: str, loaded: _Loaded) -> str:
    """The trigger kind: as asked, or image when the input is an image (a shape with height
    and width, or a square number of features >= 49 in [0, 1]), else table."""
    if kind != "auto":
        if kind not in KINDS:
            raise UsageError(f"--kind must be auto, image or table, not {kind!r}")
        return kind
    if loaded.shape is not None and len(loaded.shape) >= 2:
        return "image"
    d = loaded.x.shape[1]
    square = d >= 49 and math.isqrt(d) ** 2 == d
    unit = float(loaded.x.min()) >= 0.0 and float(loaded.x.max()) <= 1.0
    return "image" if square and unit else "table"


def _triggers(key: bytes, loaded: _Loaded, kind: str, n: int) -> TriggerSet:
    """The key's trigger set, labelled away from the clean model's own answers."""
    d = loaded.x.shape[1]
    image_shape = loaded.shape if kind == "image" and loaded.shape else None
    common: dict[str, Any] = {"kind": kind, "n_features": d, "n_classes": loaded.n_classes}
    if kind == "image":
        common.update(image_shape=image_shape, lower=loaded.x.min(), upper=loaded.x.max())
    else:
        common.update(reference=loaded.x)
    first = derive_triggers(key, n=n, **common)
    source = predict_labels(loaded.raw, first.inputs, loaded.shape)
    return derive_triggers(key, n=n, source_labels=source, **common)


def _write(
    key: bytes,
    model: str,
    out: Path,
    commit_path: Path,
    loaded: _Loaded,
    triggers: TriggerSet,
    result: EmbedResult,
    null: NullEstimate,
    model_class: str | None,
) -> dict[str, Any]:
    """Stage the model next to --out, write the commitment (which names the staged file's
    digest), then move the model into place; nothing is left behind on failure."""
    from redwatch.harden.pipeline import save_model

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staged = save_model(
            result.model, loaded.target, staging, state_dict=model_class is not None
        )
        doc = _commitment(key, model, out, file_digest(staged), loaded, triggers, result, null)
        write_json_atomic(commit_path, doc)
        try:
            os.replace(staged, out)
        except OSError as exc:
            commit_path.unlink(missing_ok=True)
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return doc


def _commitment(
    key: bytes,
    model: str,
    out: Path,
    digest: str,
    loaded: _Loaded,
    triggers: TriggerSet,
    result: EmbedResult,
    null: NullEstimate,
) -> dict[str, Any]:
    """The signed commitment for this run."""
    classes = loaded.target.classes
    labels = [plain_label(c) for c in classes] if classes is not None else None
    agreed = round(result.trigger_agreement * triggers.n)
    test = ownership_test(agreed, triggers.n, null)
    return build_commitment(
        key=key,
        triggers=triggers,
        model={
            "source": str(out),
            "input": model,
            "sha256": digest,
            "kind": loaded.target.kind,
            "classes": labels or list(range(loaded.n_classes)),
        },
        null=null,
        clean_accuracy={
            "before": result.clean_before,
            "after": result.clean_after,
            "refit_without_triggers": result.settings.get("refit_without_triggers"),
            "held_out_rows": result.settings.get("held_out_rows"),
        },
        embedding={
            "trigger_agreement": result.trigger_agreement,
            "p_value": test.p_value,
            "settings": result.settings,
        },
    )


def _summary(
    model: str,
    out: Path,
    commit_path: Path,
    triggers: TriggerSet,
    result: EmbedResult,
    doc: dict[str, Any],
) -> None:
    """One screen: what was written and the figures that back the watermark."""
    acc, null = doc["clean_accuracy"], doc["null"]
    refs = null["references"]
    agreed = [r["agreed"] for r in refs]
    typer.echo(f"watermarked {model} -> {out} ({doc['model']['kind']}, {triggers.kind} triggers)")
    typer.echo(
        f"  trigger agreement: {round(result.trigger_agreement * triggers.n)}/{triggers.n} "
        f"({result.trigger_agreement:.1%}), p = {doc['embedding']['p_value']:.3g}"
    )
    baseline = acc.get("refit_without_triggers")
    fair = f"; refit without triggers {baseline:.4f}" if baseline is not None else ""
    typer.echo(
        f"  clean accuracy ({acc['held_out_rows']} held-out rows): before {acc['before']:.4f}, "
        f"after {acc['after']:.4f} ({result.clean_after - result.clean_before:+.2%}){fair}"
    )
    typer.echo(
        f"  null agreement rate: {null['rate']:.4g} ({len(refs)} reference models agreed "
        f"{', '.join(map(str, agreed))} of {triggers.n}; {null['confidence']:.0%} upper bound)"
    )
    typer.echo(f"  commitment: {commit_path} (trigger digest {doc['trigger']['digest'][:23]}…)")
    typer.echo(f"  public key: {doc['public_key']}")
