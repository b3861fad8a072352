"""Virtual patching: findings -> guard policy. The mapping is checked as data on constructed
findings of every category, and the policy generated from a real campaign (redwatch's engine
on the digits model) must load through load_policy and build around the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from _guard_campaign import DigitsCampaign, guard_stages, run_digits_campaign

from redwatch.findings import Category, Finding, Severity
from redwatch.guard import GuardBlocked, GuardedModel, load_policy
from redwatch.guard.patching import (
    DETECT_SQUEEZE_BITS,
    MAX_BITS,
    MIN_BITS,
    NO_GUARD_ANSWER,
    PatchSettings,
    linf_epsilon,
    plan_patch,
    squeeze_bits_for,
    write_text_atomic,
)
from redwatch.targets.spec import InputSpec


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> DigitsCampaign:
    return run_digits_campaign(tmp_path_factory.mktemp("patching"))


def _finding(
    category: Category,
    probe: str,
    severity: Severity = Severity.MEDIUM,
    key: str = "",
    **metrics: object,
) -> Finding:
    return Finding(
        probe=probe,
        category=category,
        severity=severity,
        title=f"{probe} finding {key}".strip(),
        metrics=dict(metrics),
        target="model",
        key=key,
    )


EVASION_LINF = _finding(Category.EVASION, "evasion.pgd", key="inf", norm="inf", epsilon=0.05)
EVASION_LINF_SMALL = _finding(
    Category.EVASION, "evasion.square", key="inf", norm="inf", epsilon=0.02
)
EVASION_L2 = _finding(Category.EVASION, "evasion.pgd", key="2", norm="2", epsilon=0.05)
SENSITIVITY = _finding(Category.EVASION, "evasion.sensitivity", step=0.1)
EXTRACTION = _finding(Category.EXTRACTION, "extraction.knockoff", Severity.HIGH, fidelity=0.93)
PRIVACY = _finding(Category.PRIVACY, "privacy.membership", Severity.MEDIUM, auc=0.62)
PRIVACY_SEVERE = _finding(Category.PRIVACY, "privacy.lira", Severity.HIGH, key="lira", auc=0.81)
INTEGRITY = _finding(Category.INTEGRITY, "integrity.artifact", Severity.CRITICAL)
FAIRNESS = _finding(Category.FAIRNESS, "fairness.parity")


def _stages(findings: list[Finding], **settings: object) -> dict[str, dict[str, object]]:
    plan = plan_patch(findings, "c" * 32, "model", PatchSettings(**settings))  # type: ignore[arg-type]
    return {entry["name"]: entry["options"] for entry in plan.stages}


@pytest.mark.parametrize(
    ("epsilon", "bits"),
    [(0.05, 3), (0.02, 4), (0.01, 5), (0.001, 8), (0.1, 2), (0.4, MIN_BITS), (1e-6, MAX_BITS)],
)
def test_squeeze_bits_are_the_finest_grid_with_a_step_of_twice_epsilon(
    epsilon: float, bits: int
) -> None:
    assert squeeze_bits_for(epsilon) == bits
    if MIN_BITS < bits < MAX_BITS:
        assert 1 / (2**bits - 1) >= 2 * epsilon  # the step absorbs the perturbation
        assert 1 / (2 ** (bits + 1) - 1) < 2 * epsilon  # one bit more would not


def test_only_linf_sweeps_give_a_squeezing_epsilon() -> None:
    assert linf_epsilon(EVASION_LINF) == 0.05
    assert linf_epsilon(EVASION_L2) is None
    assert linf_epsilon(SENSITIVITY) is None
    noise = _finding(Category.EVASION, "evasion.noise", epsilon=0.05)  # L∞ noise, no norm
    assert linf_epsilon(noise) == 0.05


def test_evasion_findings_get_detectors_before_squeezing_at_the_largest_epsilon() -> None:
    plan = plan_patch([EVASION_LINF_SMALL, EVASION_LINF, EVASION_L2], "c1", "model")
    assert [e["name"] for e in plan.stages] == ["validate", "detect", "sanitize", "output"]
    stages = {e["name"]: e["options"] for e in plan.stages}
    assert stages["sanitize"]["squeeze_bits"] == squeeze_bits_for(0.05) == 3
    assert stages["detect"] == {
        "detectors": ["mahalanobis", {"method": "squeeze", "bits": 3}],
        "fpr": 0.01,
        "reference": None,
        "action": "block",
    }
    assert stages["validate"]["spec_check"] == "event"
    assert stages["output"] == {"decimals": 4}
    assert {r.fingerprint for r in plan.answers["detect"]} == {
        f.fingerprint for f in (EVASION_LINF_SMALL, EVASION_LINF, EVASION_L2)
    }
    assert EVASION_L2.fingerprint not in {r.fingerprint for r in plan.answers["sanitize"]}
    assert not plan.unanswered


def test_without_a_local_model_only_mahalanobis_and_l2_only_keeps_default_squeeze() -> None:
    remote = _stages([EVASION_LINF], local_model=False)
    assert remote["detect"]["detectors"] == ["mahalanobis"]
    assert remote["sanitize"]["squeeze_bits"] == 3  # squeezing the input needs no model
    l2_only = _stages([EVASION_L2, SENSITIVITY])
    assert "squeeze_bits" not in l2_only["sanitize"]
    assert l2_only["detect"]["detectors"][1] == {"method": "squeeze", "bits": DETECT_SQUEEZE_BITS}


def test_extraction_gets_label_only_and_the_extraction_monitor() -> None:
    plan = plan_patch([EXTRACTION], "c2", "model")
    assert [e["name"] for e in plan.stages] == ["validate", "extraction", "sanitize", "output"]
    stages = {e["name"]: e["options"] for e in plan.stages}
    assert stages["extraction"] == {"action": "event"}
    assert stages["output"]["label_only"] is True
    assert [r.fingerprint for r in plan.answers["output"]] == [EXTRACTION.fingerprint]
    assert "squeeze_bits" not in stages["sanitize"]


def test_privacy_rounds_scores_and_severe_privacy_goes_label_only() -> None:
    assert _stages([PRIVACY])["output"] == {"decimals": 2}
    assert _stages([PRIVACY, PRIVACY_SEVERE])["output"] == {"decimals": 2, "label_only": True}


def test_integrity_and_unknown_categories_are_listed_as_not_answered() -> None:
    plan = plan_patch([INTEGRITY, FAIRNESS, EVASION_LINF], "c3", "model")
    assert [e["name"] for e in plan.stages] == ["validate", "detect", "sanitize", "output"]
    why = {ref.fingerprint: reason for ref, reason in plan.unanswered}
    assert why[INTEGRITY.fingerprint] == NO_GUARD_ANSWER["integrity"]
    assert "fairness" in why[FAIRNESS.fingerprint]
    assert plan.answered() == {EVASION_LINF.fingerprint}
    text = plan.render()
    header = text.split("version: 1")[0]
    assert "a guard cannot fix a tampered or poisoned artifact" in header
    assert INTEGRITY.fingerprint[:8] in header
    assert FAIRNESS.fingerprint[:8] in header
    assert "c3" in header
    assert "keygen" in header


def test_rendered_policy_is_strict_yaml_with_only_comments_above(tmp_path: Path) -> None:
    everything = [EVASION_LINF, EVASION_L2, EXTRACTION, PRIVACY, INTEGRITY, FAIRNESS]
    spec = InputSpec.from_data(np.array([[0.0, 10.0], [1.0, 30.0]]), ["a", "b"])
    settings = PatchSettings(reference="clean.csv", spec=spec)
    plan = plan_patch(everything, "d" * 32, "model", settings)
    text = plan.render()
    head, _, _body = text.partition("version: 1\n")
    assert all(line.startswith("#") for line in head.splitlines())
    assert all(len(line) <= 100 for line in head.splitlines())
    assert "b 2.857" in head  # the squeeze step in the data's units: 20 / 7
    assert yaml.safe_load(text) == plan.document()
    path = tmp_path / "p.policy.yaml"
    write_text_atomic(path, text)
    assert load_policy(path).stage_names() == [e["name"] for e in plan.stages]
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(TypeError):
        write_text_atomic(path, None)  # type: ignore[arg-type]
    assert path.read_text(encoding="utf-8") == "old\n"
    assert list(tmp_path.iterdir()) == [path]


def test_policy_from_a_real_campaign_loads_and_builds_around_the_model(
    digits: DigitsCampaign, tmp_path: Path
) -> None:
    evasion = [f for f in digits.findings if f.category is Category.EVASION]
    assert any(linf_epsilon(f) for f in evasion), "no L∞ finding in the digits campaign"
    plan = plan_patch(digits.findings, digits.campaign_id, "digits")
    path = tmp_path / "patch.policy.yaml"
    write_text_atomic(path, plan.render())
    policy = load_policy(path)
    assert policy.stage_names() == ["validate", "detect", "sanitize", "output"]
    bits = squeeze_bits_for(max(e for f in evasion if (e := linf_epsilon(f))))
    assert dict(policy.stages[2].options)["squeeze_bits"] == bits
    guarded = GuardedModel(
        digits.model, policy, digits.spec, reference=digits.x_train, stages=guard_stages()
    ).build()
    assert [s.name for s in guarded.pipeline.stages] == policy.stage_names()
    stages = []
    for row in digits.x_test[:100]:
        try:
            guarded.predict_proba(row[None, :])
        except GuardBlocked as exc:
            stages.append(exc.stage)
    assert set(stages) <= {"detect"}
    assert len(stages) <= 10  # detectors calibrated to 1% false positives on clean rows


def test_every_category_builds_once_its_stages_exist(digits: DigitsCampaign) -> None:
    findings = [*digits.findings, EXTRACTION, PRIVACY_SEVERE, INTEGRITY]
    plan = plan_patch(findings, digits.campaign_id, "digits")
    table = guard_stages()
    missing = [e["name"] for e in plan.stages if e["name"] not in table]
    assert not missing, f"guard stages not available yet: {missing}"
    guarded = GuardedModel(
        digits.model, plan.policy(), digits.spec, reference=digits.x_train, stages=table
    ).build()
    assert [s.name for s in guarded.pipeline.stages] == [e["name"] for e in plan.stages]
