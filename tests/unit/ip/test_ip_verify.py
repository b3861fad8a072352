"""Trigger-set ownership verification on real models: a watermarked XGBoost (and a small
torch net) is attributed with a signed certificate, innocent models are not, and a wrong
key, a tampered commitment or a foreign trigger digest is refused in one line."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from redwatch.demo.models import train_credit_gbm
from redwatch.exceptions import DataError
from redwatch.ip.certificate import check_certificate
from redwatch.ip.commitment import build_commitment, reference_null
from redwatch.ip.embed import embed_watermark
from redwatch.ip.keys import public_key_hex
from redwatch.ip.recipe import fit_like
from redwatch.ip.signed import sign_document
from redwatch.ip.stats import NullEstimate, fixed_null
from redwatch.ip.triggers import TriggerSet, derive_triggers, trigger_digest
from redwatch.ip.verify import _to_committed, verify_ownership
from redwatch.targets.detect import from_object

KEY = b"verify-test-owner-secret-0001"
OTHER_KEY = b"someone-else-secret-0002"


@dataclass
class Case:
    """A clean model, its watermarked copy, the triggers and the signed commitment."""

    clean: Any
    marked: Any
    triggers: TriggerSet
    commitment: dict[str, Any]
    x: np.ndarray
    y: np.ndarray


def _commit(
    triggers: TriggerSet, null: NullEstimate, classes: list[int] | None = None
) -> dict[str, Any]:
    """A commitment for the triggers with the given null estimate."""
    model = {"source": "marked", "sha256": None, "kind": "sklearn", "classes": classes or [0, 1]}
    return build_commitment(
        key=KEY,
        triggers=triggers,
        model=model,
        null=null,
        clean_accuracy={"before": 0.97, "after": 0.97},
        created_at="2026-11-22T12:00:00+00:00",
    )


def _triggers(model: Any, x: np.ndarray, n_classes: int, kind: str) -> TriggerSet:
    """The key's triggers, labelled away from the clean model's answers."""
    common: dict[str, Any] = {"kind": kind, "n_features": x.shape[1], "n_classes": n_classes}
    if kind == "table":
        common["reference"] = x
    first = derive_triggers(KEY, n=100, **common)
    source = from_object(model).predict(first.inputs)
    return derive_triggers(KEY, n=100, source_labels=source, **common)


@pytest.fixture(scope="module")
def credit() -> Case:
    """Credit XGBoost (50 trees), watermarked by refit, with a 3-reference null."""
    demo = train_credit_gbm(n_estimators=50)
    x, y = demo.x_train, demo.y_train
    triggers = _triggers(demo.model, x, 2, "table")
    result = embed_watermark(demo.model, x, y, triggers, seed=0)
    null = reference_null(demo.model, x, y, triggers, n=3, seed=0)
    return Case(demo.model, result.model, triggers, _commit(triggers, null), x, y)


def test_watermarked_model_is_attributed_with_a_signed_certificate(credit: Case) -> None:
    suspect = from_object(credit.marked, name="marked")
    result = verify_ownership(suspect, credit.commitment, KEY, issued_at="2026-11-23T00:00:00Z")
    assert result.shown
    assert result.test.p_value < 1e-6
    assert result.test.agreed >= 70
    assert result.queries == 100 == suspect.queries  # metered through the target
    cert = result.certificate
    check_certificate(cert, public_key_hex(KEY))
    assert cert["method"] == "trigger-set"
    assert cert["issued_at"] == "2026-11-23T00:00:00Z"
    evidence = cert["evidence"]
    assert evidence["trigger"] == {
        "kind": "table",
        "n": 100,
        "digest": trigger_digest(credit.triggers),
    }
    assert evidence["suspect_answers"]["agreed"] == result.test.agreed
    assert evidence["references"]["committed"] == 3
    assert evidence["commitment"] == credit.commitment
    assert evidence["public_key"] == public_key_hex(KEY)
    assert "inputs" not in str(evidence)
    assert "labels" not in evidence["suspect_answers"]
    assert "ownership shown" in result.summary()
    assert result.to_dict()["p_value"] == result.test.p_value


def test_clean_and_independent_models_are_not_attributed(credit: Case) -> None:
    clean = verify_ownership(from_object(credit.clean, name="clean"), credit.commitment, KEY)
    assert not clean.shown
    assert clean.test.p_value > 0.01
    assert clean.certificate["claim"].startswith("Ownership is not shown")
    other = fit_like(credit.clean, credit.x, credit.y, seed=77)
    independent = verify_ownership(from_object(other), credit.commitment, KEY)
    assert independent.test.p_value > 0.01


def test_added_references_raise_the_null_rate(credit: Case) -> None:
    base = verify_ownership(from_object(credit.marked), credit.commitment, KEY)
    # a "reference" that is itself watermarked agrees often: the null rate must follow it
    leaky = from_object(copy.deepcopy(credit.marked), name="leaky-reference")
    raised = verify_ownership(
        from_object(credit.marked), credit.commitment, KEY, references=[leaky]
    )
    assert raised.test.null.rate > 0.5 > base.test.null.rate
    assert not raised.shown
    assert raised.added_references[0].name == "leaky-reference"
    assert leaky.queries == 100
    assert raised.certificate["evidence"]["references"]["added"][0]["agreed"] >= 70
    assert len(raised.test.null.references) == 4


def test_fixed_null_without_references_is_used_as_committed(credit: Case) -> None:
    doc = _commit(credit.triggers, fixed_null(0.5, "chance-1/K"))
    result = verify_ownership(from_object(credit.marked), doc, KEY)
    assert result.test.null.rate == 0.5
    assert result.test.null.method == "chance-1/K"


def test_wrong_key_is_refused(credit: Case) -> None:
    with pytest.raises(DataError, match="key does not match this commitment"):
        verify_ownership(from_object(credit.marked), credit.commitment, OTHER_KEY)


def test_tampered_commitment_is_refused(credit: Case) -> None:
    doc = copy.deepcopy(credit.commitment)
    doc["null"]["rate"] = 0.001
    with pytest.raises(DataError, match="signature does not verify"):
        verify_ownership(from_object(credit.marked), doc, KEY)
    with pytest.raises(DataError, match=r"not a redwatch\.ip\.commitment/v1"):
        verify_ownership(from_object(credit.marked), {"schema": "x"}, KEY)
    unsigned = {k: v for k, v in credit.commitment.items() if k != "signature"}
    with pytest.raises(DataError, match="not signed"):
        verify_ownership(from_object(credit.marked), unsigned, KEY)


def test_commitment_for_another_trigger_set_is_refused(credit: Case) -> None:
    body = {k: v for k, v in credit.commitment.items() if k != "signature"}
    body["trigger"] = {**body["trigger"], "digest": "sha256:" + "0" * 64}
    with pytest.raises(DataError, match="does not match the commitment's digest"):
        verify_ownership(from_object(credit.marked), sign_document(body, KEY), KEY)


def test_suspect_with_other_inputs_is_refused(credit: Case) -> None:
    from xgboost import XGBClassifier

    narrow = XGBClassifier(n_estimators=5).fit(credit.x[:, :2], credit.y)
    with pytest.raises(DataError, match="takes 2 features; the committed triggers have 3"):
        verify_ownership(from_object(narrow), credit.commitment, KEY)


def test_class_values_are_matched_by_value_not_position() -> None:
    index = np.array([0, 1, 2, 1])
    mapped = _to_committed(index, np.array(["b", "c", "a"]), ["a", "b"])
    assert mapped.tolist() == [1, -1, 0, -1]
    assert _to_committed(index, None, [0, 1, 2]).tolist() == index.tolist()
    floats = _to_committed(np.array([0, 1]), np.array([1.0, 0.0]), [0, 1])
    assert floats.tolist() == [1, 0]


def test_torch_module_is_verified_through_its_target() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    clean = fit_like(net, x, y, seed=0, epochs=15)
    triggers = _triggers(clean, x, 10, "image")
    marked = embed_watermark(clean, x, y, triggers, seed=0, epochs=15, trigger_share=0.1).model
    null = reference_null(clean, x, y, triggers, n=3, seed=0, epochs=15)
    doc = _commit(triggers, null, classes=list(range(10)))
    shown = verify_ownership(from_object(marked, name="net"), doc, KEY)
    assert shown.shown, shown.summary()
    assert shown.certificate["suspect"]["kind"] == "torch"
    assert not verify_ownership(from_object(clean), doc, KEY).shown
