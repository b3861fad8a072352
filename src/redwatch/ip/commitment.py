"""The watermark commitment (`redwatch.ip.commitment/v1`): a signed, timestamped record made
at embed time of the trigger set's digest (not the triggers), the parameters that regenerate
it from the key, the watermarked model's file digest, clean accuracy before and after, and
the null agreement rate measured on independently trained reference models.

Verification regenerates the triggers from the key, checks them against the digest, and
tests the suspect against the committed null rate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from redwatch.exceptions import DataError
from redwatch.ip.keys import public_key_hex
from redwatch.ip.recipe import independent_models, predict_labels
from redwatch.ip.signed import read_json, require_signature, sha256_hex, sign_document
from redwatch.ip.stats import NullEstimate, ReferenceAgreement, estimate_null
from redwatch.ip.triggers import GENERATOR, TriggerSet, regenerate, trigger_digest

COMMITMENT_SCHEMA = "redwatch.ip.commitment/v1"


def reference_null(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    triggers: TriggerSet,
    *,
    n: int = 5,
    seed: int = 0,
    epochs: int = 5,
    input_shape: tuple[int, ...] | None = None,
    confidence: float = 0.99,
) -> NullEstimate:
    """The null agreement rate: train n models of the model's recipe on bootstrap resamples
    of (x, y) (labels as class indices), count how often each gives the trigger labels, and
    take estimate_null of those counts."""
    with threadpool_limits(1):  # threaded BLAS only thrashes on problems of this size
        refs = independent_models(
            model, x, y, n=n, seed=seed, bootstrap=True, epochs=epochs, input_shape=input_shape
        )
    agreements = [
        ReferenceAgreement(f"reference-{i}", _agreed(ref, triggers, input_shape), triggers.n)
        for i, ref in enumerate(refs, start=1)
    ]
    return estimate_null(agreements, confidence)


def _agreed(model: Any, triggers: TriggerSet, input_shape: tuple[int, ...] | None) -> int:
    """How many triggers the model labels with the secret label."""
    return int(np.sum(predict_labels(model, triggers.inputs, input_shape) == triggers.labels))


def build_commitment(
    *,
    key: bytes,
    triggers: TriggerSet,
    model: dict[str, Any],
    null: NullEstimate,
    clean_accuracy: dict[str, Any],
    embedding: dict[str, Any] | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    """The signed commitment. `model` holds source, sha256 (of the written file), kind and
    classes; `clean_accuracy` holds before and after (held-out rows); `embedding` (optional)
    the trigger agreement and settings. All values must be plain JSON."""
    doc = {
        "schema": COMMITMENT_SCHEMA,
        "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "public_key": public_key_hex(key),
        "trigger": {
            "kind": triggers.kind,
            "n": triggers.n,
            "n_features": int(triggers.inputs.shape[1]),
            "n_classes": int(triggers.params["n_classes"]),
            "digest": trigger_digest(triggers),
            "generator": GENERATOR,
            "params": triggers.params,
        },
        "model": dict(model),
        "null": null.to_dict(),
        "clean_accuracy": dict(clean_accuracy),
        "embedding": dict(embedding or {}),
    }
    return sign_document(doc, key)


def file_digest(path: Path) -> str:
    """`sha256:` digest of a file's bytes (what the commitment's model.sha256 holds)."""
    return sha256_hex(path.read_bytes())


def load_commitment(path: Path) -> dict[str, Any]:
    """A commitment read from disk, its schema and signature checked; DataError (one line)
    naming the file otherwise."""
    return check_commitment(read_json(path, "commitment"), f"commitment {path}")


def check_commitment(doc: Any, what: str) -> dict[str, Any]:
    """`doc` when it is a signed commitment with trigger parameters whose public key is the
    signing key; DataError (one line, naming `what`) otherwise."""
    if not isinstance(doc, dict) or doc.get("schema") != COMMITMENT_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise DataError(f"{what} is not a {COMMITMENT_SCHEMA} document (schema {found!r})")
    require_signature(doc, what)
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict) or not isinstance(trigger.get("params"), dict):
        raise DataError(f"{what} has no trigger parameters")
    if doc.get("public_key") != doc["signature"].get("public_key"):
        raise DataError(f"{what}: public_key differs from the signing key")
    return doc


def check_triggers(commitment: dict[str, Any], triggers: TriggerSet) -> None:
    """DataError unless the triggers' digest is the committed one (wrong key, or a
    commitment that belongs to another trigger set)."""
    committed = commitment.get("trigger", {}).get("digest")
    if trigger_digest(triggers) != committed:
        raise DataError(
            "the regenerated trigger set does not match the commitment's digest "
            "(wrong key, or a commitment for another watermark)"
        )


def open_triggers(commitment: dict[str, Any], key: bytes) -> TriggerSet:
    """The committed trigger set rebuilt from the key and checked: DataError when the key
    is not the one that signed the commitment or the digest does not match."""
    mine, signer = public_key_hex(key), commitment.get("public_key")
    if signer != mine:
        raise DataError(
            f"the key does not match this commitment: it was signed by public key "
            f"{str(signer)[:16]}…, this key's public key is {mine[:16]}…"
        )
    triggers = regenerate(key, commitment["trigger"]["params"])
    check_triggers(commitment, triggers)
    return triggers


def committed_null(commitment: dict[str, Any]) -> NullEstimate:
    """The null estimate recorded at embed time."""
    return NullEstimate.from_dict(commitment.get("null"))
