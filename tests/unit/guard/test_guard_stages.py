"""Built-in guard stages on real data: a conformance test over the stage table, then each
stage's behaviour (validate blocks, sanitize repairs, output hardens without relabelling)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _guard_keys import api_key
from _guard_models import WineCase, wine_case
from pydantic import BaseModel

from redwatch.exceptions import UsageError
from redwatch.guard import Action, Decision, GuardRequest, GuardResponse, GuardStage, StageOptions
from redwatch.guard.context import StageContext
from redwatch.guard.stages import BUILTIN_STAGES
from redwatch.guard.stages.output import OutputStage, reverse_sigmoid
from redwatch.guard.stages.sanitize import SanitizeStage
from redwatch.guard.stages.validate import ValidateStage
from redwatch.registry import plugins
from redwatch.targets.spec import InputSpec


@pytest.fixture
def wine() -> WineCase:
    return wine_case()


def _build(cls: type[GuardStage], spec: InputSpec | None, **options: Any) -> GuardStage:
    return cls.from_options(options, StageContext(spec=spec))


def _response(case: WineCase, x: np.ndarray) -> GuardResponse:
    proba = case.model.predict_proba(x)
    classes = case.model.classes_
    return GuardResponse(labels=classes[proba.argmax(axis=1)], proba=proba, classes=classes)


def _legitimate(name: str) -> tuple[dict[str, Any], str | None]:
    """Options and key that make the conformance call legitimate for stages that refuse
    everything until configured (auth lists no key by default); {} and no key otherwise."""
    if name == "auth":
        key, entry = api_key("conformance")
        return {"keys": [entry]}, key
    return {}, None


def _context(case: WineCase) -> StageContext:
    """Everything a stage may ask for: spec, local model, classes and clean reference rows
    (wine has 178 rows, fewer than calibrating at 1% needs: four jittered copies, clipped to
    the spec so that they stay in range)."""
    rng = np.random.default_rng(0)
    copies = [case.x + rng.normal(0, 0.01, case.x.shape) * case.x.std(axis=0) for _ in range(4)]
    reference = np.clip(np.vstack(copies), case.spec.lower, case.spec.upper)
    return StageContext(
        spec=case.spec,
        predict_proba=case.model.predict_proba,
        classes=case.model.classes_,
        reference=reference,
    )


def test_builtin_table_is_what_the_entry_points_register() -> None:
    """The conformance below covers every registered stage: the table equals the group."""
    registered = plugins("redwatch.guard_stages")
    assert set(registered) == set(BUILTIN_STAGES)
    assert all(registered[name] is BUILTIN_STAGES[name] for name in registered)


@pytest.mark.parametrize("name", sorted(BUILTIN_STAGES))
def test_stage_conformance(name: str, wine: WineCase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Declarations are complete; defaults build; one request and one response round trip
    on clean rows give well-formed decisions that keep shapes (and labels, unless the stage
    declares `relabels`, as only the watermark does)."""
    monkeypatch.setenv("REDWATCH_WATERMARK_KEY", "conformance-watermark-key-0123456789")
    context = _context(wine)
    cls = BUILTIN_STAGES[name]
    assert cls.name == name
    assert cls.description.strip()
    assert "\n" not in cls.description
    assert issubclass(cls.options_model, StageOptions)
    assert cls.__doc__
    assert cls.on_request.__doc__
    assert cls.on_response.__doc__
    with pytest.raises(UsageError, match=f"stage {name}: no_such_option: Extra inputs"):
        cls.from_options({"no_such_option": 1}, context)
    assert isinstance(cls.from_options({}, context).options, BaseModel)
    options, key = _legitimate(name)
    stage = cls.from_options(options, context)
    x = wine.x[::5]
    request = GuardRequest(x, client="c1", key=key, payload_bytes=x.nbytes)
    decision = stage.on_request(request)
    assert isinstance(decision, Decision)
    assert decision.action in (Action.ALLOW, Action.MODIFY)
    if decision.rows is not None:
        assert decision.rows.shape == x.shape
    response = _response(wine, x)
    after = stage.on_response(request, response)
    assert after.action in (Action.ALLOW, Action.MODIFY)
    if after.response is not None:
        if not cls.relabels:
            np.testing.assert_array_equal(after.response.labels, response.labels)
        assert after.response.proba is not None
        assert after.response.proba.shape == response.proba.shape  # type: ignore[union-attr]
    assert all(e.stage == name and e.client == "c1" for e in decision.events + after.events)


# --- validate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "payload", "rows", "status", "reason"),
    [
        ({"max_payload_bytes": 100}, 101, 1, 413, "payload of 101 bytes exceeds the cap of 100"),
        ({"max_rows": 3}, 0, 4, 413, "4 rows exceed the cap of 3"),
    ],
)
def test_validate_caps(
    wine: WineCase, options: dict[str, Any], payload: int, rows: int, status: int, reason: str
) -> None:
    stage = _build(ValidateStage, wine.spec, **options)
    decision = stage.on_request(GuardRequest(wine.x[:rows], payload_bytes=payload))
    assert (decision.action, decision.status, decision.reason) == (Action.BLOCK, status, reason)
    assert decision.events[0].data == {"status": status}


def test_validate_spec_block_names_the_feature_and_counts_rows(wine: WineCase) -> None:
    stage = _build(ValidateStage, wine.spec, spec_check="block")
    x = wine.x[:4].copy()
    x[2, 4] = 100.5  # magnesium is a whole number in the data
    x[3, 0] = wine.spec.upper[0] + 1.0
    decision = stage.on_request(GuardRequest(x))
    assert decision.action is Action.BLOCK
    assert decision.status == 422
    assert decision.reason.startswith("2 of 4 row(s) outside the input spec; row 2: violates ")
    assert "magnesium is a whole number" in decision.reason
    assert stage.on_request(GuardRequest(wine.x)).action is Action.ALLOW


def test_validate_checks_declared_categories_and_onehot_groups(wine: WineCase) -> None:
    spec = wine.spec.declare(categorical={"ash": [2.0, 2.5, 3.0]})
    stage = _build(ValidateStage, spec, spec_check="block")
    x = wine.x[:1].copy()
    x[0, 2] = 2.5
    assert stage.on_request(GuardRequest(x)).action is Action.ALLOW
    x[0, 2] = 2.4
    assert "ash in [2.0, 2.5, 3.0]" in stage.on_request(GuardRequest(x)).reason
    onehot = InputSpec.from_data(np.eye(3), ["a", "b", "c"]).declare(onehot=[["a", "b", "c"]])
    check = _build(ValidateStage, onehot, spec_check="block")
    assert "one-hot (a, b, c)" in check.on_request(GuardRequest(np.array([[1.0, 1, 0]]))).reason


def test_validate_event_mode_allows_and_off_mode_is_silent(wine: WineCase) -> None:
    x = wine.x[:2].copy()
    x[0, 12] = 0.0
    recorded = _build(ValidateStage, wine.spec, spec_check="event").on_request(GuardRequest(x))
    assert recorded.action is Action.ALLOW
    assert recorded.events[0].kind == "spec_violation"
    assert recorded.events[0].data["violations"] == {"proline within [278, 1680]": 1}
    silent = _build(ValidateStage, wine.spec, spec_check="off").on_request(GuardRequest(x))
    assert silent == Decision.allow()


def test_validate_without_spec_checks_structure_only(wine: WineCase) -> None:
    stage = _build(ValidateStage, None)
    assert stage.on_request(GuardRequest(wine.x[:2] * 1e6)).action is Action.ALLOW
    nan = np.array([[1.0, np.nan]])
    assert stage.on_request(GuardRequest(nan)).status == 422


# --- sanitize -----------------------------------------------------------------------------


def test_sanitize_makes_noisy_real_rows_feasible_and_is_idempotent(wine: WineCase) -> None:
    spec = wine.spec.declare(categorical={"ash": [2.0, 2.5, 3.0]})
    rng = np.random.default_rng(0)
    noisy = wine.x + rng.normal(0.0, 0.3, wine.x.shape) * spec.scale
    assert not spec.feasible(noisy).all()
    stage = _build(SanitizeStage, spec)
    decision = stage.on_request(GuardRequest(noisy))
    assert decision.action is Action.MODIFY
    assert decision.rows is not None
    assert spec.feasible(decision.rows).all()
    assert decision.events[0].data["rows_changed"] == len(noisy)
    assert stage.on_request(GuardRequest(decision.rows)) == Decision.allow()


def test_sanitize_snaps_onehot_to_the_largest_entry() -> None:
    spec = InputSpec.from_data(np.eye(3), ["a", "b", "c"]).declare(onehot=[["a", "b", "c"]])
    stage = _build(SanitizeStage, spec)
    decision = stage.on_request(GuardRequest(np.array([[0.2, 0.7, 0.4]])))
    np.testing.assert_array_equal(decision.rows, [[0.0, 1.0, 0.0]])


def test_sanitize_squeezing_puts_values_on_the_grid_and_keeps_accuracy(wine: WineCase) -> None:
    bits = 4
    stage = _build(SanitizeStage, wine.spec, squeeze_bits=bits, round_integers=False)
    rows = stage.on_request(GuardRequest(wine.x)).rows
    assert rows is not None
    steps = (rows - wine.spec.lower) / wine.spec.scale * (2**bits - 1)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    clean = (wine.model.predict(wine.x) == wine.y).mean()
    squeezed = (wine.model.predict(rows) == wine.y).mean()
    assert squeezed >= clean - 0.05


def test_sanitize_without_spec_allows() -> None:
    stage = _build(SanitizeStage, None)
    assert stage.on_request(GuardRequest(np.array([[1e9, -1e9]]))) == Decision.allow()


# --- output -------------------------------------------------------------------------------


def _harden(case: WineCase, **options: Any) -> tuple[GuardResponse, GuardResponse]:
    response = _response(case, case.x)
    decision = _build(OutputStage, case.spec, **options).on_response(GuardRequest(case.x), response)
    assert decision.action is Action.MODIFY
    assert decision.response is not None
    assert decision.events[0].kind == "output_hardened"
    return response, decision.response


def test_output_label_only_and_top_k(wine: WineCase) -> None:
    before, after = _harden(wine, label_only=True)
    assert after.proba is not None
    assert before.proba is not None
    np.testing.assert_array_equal(after.proba, np.eye(3)[before.proba.argmax(axis=1)])
    before, after = _harden(wine, top_k=2, decimals=None)
    assert after.proba is not None
    assert before.proba is not None
    assert ((after.proba > 0).sum(axis=1) <= 2).all()
    smallest = before.proba.argmin(axis=1)
    assert (after.proba[np.arange(len(smallest)), smallest] == 0).all()


def test_output_rounding_keeps_every_argmax(wine: WineCase) -> None:
    before, after = _harden(wine, decimals=0)
    assert after.proba is not None
    assert before.proba is not None
    assert set(np.unique(after.proba)) <= {0.0, 1.0}
    rows = np.arange(len(after.proba))
    top = before.proba.argmax(axis=1)
    assert (after.proba[rows, top] == after.proba.max(axis=1)).all()


def test_output_reverse_sigmoid_perturbs_but_keeps_labels(wine: WineCase) -> None:
    before, after = _harden(
        wine, reverse_sigmoid_beta=0.7, reverse_sigmoid_gamma=2.0, decimals=None
    )
    assert after.proba is not None
    assert before.proba is not None
    np.testing.assert_allclose(after.proba.sum(axis=1), 1.0)
    assert (after.proba >= 0).all()
    np.testing.assert_array_equal(after.proba.argmax(axis=1), before.proba.argmax(axis=1))
    assert np.abs(after.proba - before.proba).max() > 0.05
    np.testing.assert_array_equal(after.labels, before.labels)


def test_reverse_sigmoid_with_gamma_one_is_an_affine_shrink() -> None:
    """With gamma = 1 the perturbation is (1 - beta) * y + beta / 2, renormalised."""
    y = np.array([[0.7, 0.2, 0.1]])
    expected = (0.5 * y + 0.25) / (0.5 * y + 0.25).sum()
    np.testing.assert_allclose(reverse_sigmoid(y, 0.5, 1.0), expected)


def test_output_allows_label_only_responses(wine: WineCase) -> None:
    stage = _build(OutputStage, wine.spec, label_only=True)
    labels = GuardResponse(labels=wine.model.predict(wine.x[:3]))
    assert stage.on_response(GuardRequest(wine.x[:3]), labels) == Decision.allow()


def test_decision_constructors_reject_inconsistent_shapes() -> None:
    with pytest.raises(ValueError, match="exactly one of rows, chat or response"):
        Decision.modify()
    with pytest.raises(ValueError, match="a block needs a 4xx status, got 500"):
        Decision.block("x", 500)


@pytest.mark.parametrize("decimals", [0, 1, 2])
def test_output_rounding_never_leaves_a_tie_that_changes_the_label(decimals: int) -> None:
    """Probabilities that round to equal values (0.46/0.54 -> 0.5/0.5 at one decimal) still
    name the model's class as the strict maximum, one unit of the last decimal apart."""
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=2000)
    proba[0] = [0.46, 0.54, 0.0]
    proba[1] = [0.333, 0.334, 0.333]
    stage = OutputStage.from_options({"decimals": decimals})
    out = stage.harden(proba)
    top = proba.argmax(axis=1)
    rows = np.arange(len(out))
    others = out.copy()
    others[rows, top] = -np.inf
    assert (out[rows, top] > others.max(axis=1)).all()
    assert np.allclose(out, np.round(out, decimals))
