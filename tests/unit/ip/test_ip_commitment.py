"""The commitment: signed, holds the digest but not the triggers, loads back with its
signature checked, matches the regenerated triggers only for the right key, and carries a
null rate measured on real reference models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from redwatch.demo.models import train_credit_gbm
from redwatch.exceptions import DataError
from redwatch.ip.commitment import (
    COMMITMENT_SCHEMA,
    build_commitment,
    check_triggers,
    committed_null,
    load_commitment,
    open_triggers,
    reference_null,
)
from redwatch.ip.recipe import predict_labels
from redwatch.ip.signed import write_json_atomic
from redwatch.ip.stats import fixed_null
from redwatch.ip.triggers import derive_triggers, trigger_digest

KEY = b"commitment-test-key-0123456789"
OTHER = b"another-owner-key-0123456789ab"


def _doc(key: bytes = KEY) -> tuple[dict, object]:  # type: ignore[type-arg]
    t = derive_triggers(key, kind="image", n_features=64, n_classes=10, n=25)
    doc = build_commitment(
        key=key,
        triggers=t,
        model={"source": "m.joblib", "sha256": "sha256:00", "kind": "sklearn", "classes": [0, 1]},
        null=fixed_null(0.1, "chance-1/K"),
        clean_accuracy={"before": 0.97, "after": 0.968},
        created_at="2024-01-01T00:00:00+00:00",
    )
    return doc, t


def test_commitment_round_trip(tmp_path: Path) -> None:
    doc, t = _doc()
    assert doc["schema"] == COMMITMENT_SCHEMA
    assert doc["trigger"]["digest"] == trigger_digest(t)  # type: ignore[arg-type]
    text = json.dumps(doc)
    assert str(round(float(t.inputs[0, np.argmax(t.inputs[0])]), 6)) not in text  # type: ignore[attr-defined]
    assert "labels" not in doc["trigger"]["params"]
    path = tmp_path / "c.json"
    write_json_atomic(path, doc)
    loaded = load_commitment(path)
    again = open_triggers(loaded, KEY)
    assert np.array_equal(again.inputs, t.inputs)  # type: ignore[attr-defined]
    assert committed_null(loaded).rate == 0.1


def test_tampered_or_foreign_commitment_is_refused(tmp_path: Path) -> None:
    doc, _ = _doc()
    path = tmp_path / "c.json"
    doc["clean_accuracy"]["after"] = 0.99
    write_json_atomic(path, doc)
    with pytest.raises(DataError, match="signature does not verify"):
        load_commitment(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        load_commitment(path)
    write_json_atomic(path, {"schema": "other"})
    with pytest.raises(DataError, match=r"not a redwatch\.ip\.commitment/v1"):
        load_commitment(path)
    good, _ = _doc()
    with pytest.raises(DataError, match="public key"):
        open_triggers(good, OTHER)
    _, foreign = _doc(OTHER)
    with pytest.raises(DataError, match="digest"):
        check_triggers(good, foreign)  # type: ignore[arg-type]


def test_reference_null_on_credit_models() -> None:
    demo = train_credit_gbm(n_estimators=40)
    first = derive_triggers(
        KEY, kind="table", n_features=3, n_classes=2, n=50, reference=demo.x_train
    )
    t = derive_triggers(
        KEY,
        kind="table",
        n_features=3,
        n_classes=2,
        n=50,
        reference=demo.x_train,
        source_labels=predict_labels(demo.model, first.inputs),
    )
    null = reference_null(demo.model, demo.x_train, demo.y_train, t, n=3, seed=0)
    assert null.method == "reference-models"
    assert len(null.references) == 3
    assert all(r.trials == 50 for r in null.references)
    assert max(r.agreed for r in null.references) <= 15  # flipped labels: rarely agreed
    assert 0 < null.rate < 0.5
