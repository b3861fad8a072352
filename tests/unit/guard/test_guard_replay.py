"""Replaying a real campaign's recorded adversarial inputs through a guard: the counts agree
with an independent computation, an empty guard lets every recorded evasion through, the
generated policy's figures are measured (not assumed), and bad evidence is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _guard_campaign import DigitsCampaign, guard_stages, run_digits_campaign

from redwatch.exceptions import DataError
from redwatch.findings import Category, Evidence, Finding, Severity
from redwatch.guard import GuardBlocked, GuardedModel, parse_policy
from redwatch.guard.context import StageContext
from redwatch.guard.patching import plan_patch
from redwatch.guard.policy import Policy
from redwatch.guard.replay import (
    CLIENT_STAGES,
    ReplayCase,
    ReplayReport,
    ScoringTargetModel,
    as_model,
    load_cases,
    replay,
    replay_policy,
)
from redwatch.guard.stages.sanitize import SanitizeStage
from redwatch.targets.detect import from_object


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> DigitsCampaign:
    return run_digits_campaign(tmp_path_factory.mktemp("replay"))


@pytest.fixture(scope="module")
def cases(digits: DigitsCampaign) -> list[ReplayCase]:
    found, skipped = load_cases(digits.findings, digits.report_dir, digits.spec.n_features)
    assert found, "the digits campaign recorded no adversarial examples"
    assert not skipped  # PGD and Square record their examples
    return found


def _guard(digits: DigitsCampaign, policy: Policy) -> GuardedModel:
    return GuardedModel(
        digits.model, policy, digits.spec, reference=digits.x_train, stages=guard_stages()
    ).build()


def test_recorded_evidence_is_read_back_as_confirmed_evasions(
    digits: DigitsCampaign, cases: list[ReplayCase]
) -> None:
    for case in cases:
        assert case.x is not None
        assert case.x.shape == case.x_adv.shape
        assert (digits.model.predict(case.x) == case.y).all()  # originals were right
        assert (digits.model.predict(case.x_adv) != case.y).all()  # recorded evasions


def test_an_empty_guard_lets_every_recorded_evasion_through(
    digits: DigitsCampaign, cases: list[ReplayCase]
) -> None:
    results = replay(_guard(digits, Policy()), cases)
    for result, case in zip(results, cases, strict=True):
        assert result.inputs == result.evading == len(case.y)
        assert result.blocked == result.restored == 0
        assert result.clean_inputs == len(case.y)
        assert result.clean_changed == 0
        assert not result.is_blocked
    assert not ReplayReport(results).all_blocked


def test_squeezing_counts_match_an_independent_computation(
    digits: DigitsCampaign, cases: list[ReplayCase]
) -> None:
    policy = parse_policy({"stages": [{"name": "sanitize", "options": {"squeeze_bits": 3}}]})
    results = replay(_guard(digits, policy), cases)
    squeeze = SanitizeStage.from_options({"squeeze_bits": 3}, StageContext(spec=digits.spec))
    assert isinstance(squeeze, SanitizeStage)
    for result, case in zip(results, cases, strict=True):
        labels = digits.model.predict(squeeze.repair(case.x_adv, digits.spec))
        assert result.blocked == 0
        assert result.evading == int(np.sum(labels != case.y))
        assert result.restored == int(np.sum(labels == case.y))
        assert result.is_blocked == bool(np.all(labels == case.y))


def test_the_generated_patch_is_measured_honestly(
    digits: DigitsCampaign, cases: list[ReplayCase]
) -> None:
    plan = plan_patch(digits.findings, digits.campaign_id, "digits")
    guarded = _guard(digits, plan.policy())
    report = ReplayReport(replay(guarded, cases))
    totals = report.totals()
    assert totals["inputs"] == sum(len(c.y) for c in cases)
    assert totals["inputs"] == totals["blocked"] + totals["restored"] + totals["evading"]
    assert totals["blocked"] + totals["restored"] > 0, f"the patch neutralised nothing: {totals}"
    for result in report.results:
        assert sum(result.blocked_by.values()) == result.blocked
        assert set(result.blocked_by) <= {"validate", "detect"}
    assert report.all_blocked == all(r.evading == 0 for r in report.results)
    doc = report.to_dict()
    assert doc["findings_replayed"] == len(cases)
    assert doc["findings_blocked"] == sum(r.evading == 0 for r in report.results)
    assert "not an adaptive attack" in doc["note"]
    # the same guard on clean held-out rows: the price of the patch, measured
    blocked = 0
    for row in digits.x_test[:200]:
        try:
            guarded.predict(row[None, :])
        except GuardBlocked:
            blocked += 1
    assert blocked <= 10  # detectors are calibrated to 1% on clean rows


def test_client_stages_are_left_out_of_the_replay() -> None:
    policy = parse_policy(
        {
            "stages": [
                {"name": "ratelimit"},
                {"name": "auth"},
                {"name": "validate"},
                {"name": "extraction"},
                {"name": "output"},
            ]
        }
    )
    kept, dropped = replay_policy(policy)
    assert kept.stage_names() == ["validate", "output"]
    assert dropped == ["ratelimit", "auth", "extraction"]
    assert set(dropped) <= set(CLIENT_STAGES)


def _evasion(path: str | None, kind: str = "adversarial_examples") -> Finding:
    return Finding(
        probe="evasion.pgd",
        category=Category.EVASION,
        severity=Severity.LOW,
        title="t",
        evidence=[Evidence(kind, "d", path=path)],
    )


def test_findings_without_recorded_inputs_are_skipped_with_the_reason(tmp_path: Path) -> None:
    extraction = Finding("extraction.knockoff", Category.EXTRACTION, Severity.HIGH, "copy")
    sensitivity = _evasion("evidence/x/0-flipped_rows.npz", kind="flipped_rows")
    found, skipped = load_cases([extraction, sensitivity], tmp_path)
    assert not found
    reasons = [why for _, why in skipped]
    assert "extraction findings record no inputs" in reasons[0]
    assert "flipped_rows" in reasons[1]


def test_bad_evidence_is_one_data_error_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found; pass --evidence"):
        load_cases([_evasion("evidence/none/0-adversarial_examples.npz")], tmp_path)
    with pytest.raises(DataError, match="outside"):
        load_cases([_evasion("../escape.npz")], tmp_path)
    np.savez(tmp_path / "short.npz", x_adv=np.zeros((3, 4)), y=np.zeros(2))
    with pytest.raises(DataError, match="disagree"):
        load_cases([_evasion("short.npz")], tmp_path)
    np.savez(tmp_path / "wide.npz", x_adv=np.zeros((2, 5)), y=np.zeros(2))
    with pytest.raises(DataError, match="5 features, the model expects 4"):
        load_cases([_evasion("wide.npz")], tmp_path, n_features=4)
    (tmp_path / "junk.npz").write_bytes(b"not an archive")
    with pytest.raises(DataError, match="cannot read"):
        load_cases([_evasion("junk.npz")], tmp_path)


def test_a_loaded_target_serves_the_guard_with_class_indices(digits: DigitsCampaign) -> None:
    target = from_object(digits.model, name="digits")
    model = as_model(target, digits.x_test[:5])
    assert isinstance(model, ScoringTargetModel)
    assert list(model.classes_) == list(range(10))
    assert (model.predict(digits.x_test[:20]) == digits.model.predict(digits.x_test[:20])).all()
    proba = model.predict_proba(digits.x_test[:3])
    assert np.allclose(proba, digits.model.predict_proba(digits.x_test[:3]))
