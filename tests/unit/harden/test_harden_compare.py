"""The before/after table from campaign results, the Markdown report, and the literal
`redwatch harden` command that the engine writes into evasion findings."""

from __future__ import annotations

from pathlib import Path

from redwatch.engine.commands import NO_MODEL_FILE, fill_commands, render
from redwatch.findings import Category, Finding, Severity
from redwatch.harden.compare import compare
from redwatch.harden.record import markdown
from redwatch.probes.evasion.common import evasion_mitigations
from redwatch.results import CampaignResult, ProbeRun


def _campaign(
    clean: float, curve: list[tuple[float, float]] | None, headline: float
) -> CampaignResult:
    metrics = {
        "epsilon_Linf": 0.1,
        "accuracy_under_attack_Linf": headline,
        "success_rate_Linf": 0.5,
    }
    findings = []
    if curve is not None:
        points = [{"epsilon": e, "accuracy": a, "success_rate": 1 - a} for e, a in curve]
        findings.append(
            Finding(
                "evasion.pgd",
                Category.EVASION,
                Severity.HIGH,
                "t",
                metrics={"norm": "inf", "epsilon": 0.1, "curve": points},
            )
        )
    return CampaignResult(
        id="c",
        target="m",
        target_kind="torch",
        started_at="",
        finished_at="",
        status="completed",
        probes=[ProbeRun("evasion.pgd", "ok", metrics=metrics), ProbeRun("evasion.x", "skipped")],
        findings=findings,
        config={"clean_accuracy": clean},
    )


def test_table_merges_finding_curves_and_headline_metrics() -> None:
    before = _campaign(0.96, [(0.05, 0.8), (0.1, 0.3), (0.2, 0.0)], 0.3)
    after = _campaign(0.95, None, 0.7)  # robust enough that the probe reported no finding
    comparison = compare(before, after)
    rows = {(r.metric, r.epsilon): r for r in comparison.rows}
    assert rows[("clean accuracy", None)].before == 0.96
    assert rows[("robust accuracy", 0.05)].before == 0.8
    assert rows[("robust accuracy", 0.05)].after is None
    ref = rows[("robust accuracy", 0.1)]
    assert ref.reference
    assert ref.before == 0.3
    assert ref.after == 0.7
    assert abs((ref.change or 0) - 0.4) < 1e-12
    assert ("attack success", 0.05) not in rows  # attack success only at the reference
    assert comparison.improved
    assert "30.0% -> 70.0%" in comparison.verdict
    assert not compare(after, before).improved


def test_no_measurement_means_not_improved() -> None:
    empty = CampaignResult("c", "m", "x", "", "", "completed", config={"clean_accuracy": 1.0})
    comparison = compare(empty, empty)
    assert not comparison.improved
    assert "no evasion probe" in comparison.verdict


def test_markdown_report_lists_every_row() -> None:
    comparison = compare(_campaign(0.9, [(0.1, 0.2)], 0.2), _campaign(0.9, [(0.1, 0.5)], 0.5))
    record = {
        "input_model": {"path": "m.pt"},
        "method": {"name": "trades", "epsilon": 0.1},
        "data": {"path": "d.csv", "sha256": "ab" * 32, "train_rows": 8, "eval_rows": 2},
        "output_model": "out/model.pt",
        "campaigns": {"before": "b", "after": "a"},
    }
    text = markdown(record, comparison)
    assert text.count("\n| ") == len(comparison.rows) + 1
    assert "trades" in text
    assert "+30.0 pts" in text
    assert "not a certificate" in text


def test_retrain_mitigation_carries_the_filled_harden_command(tmp_path: Path) -> None:
    model = tmp_path / "fraud model.joblib"
    model.write_bytes(b"x")
    finding = Finding(
        "evasion.pgd", Category.EVASION, Severity.HIGH, "t", mitigations=evasion_mitigations(False)
    )
    config = {"model": str(model), "data": "tx.csv", "labels": "is_fraud"}
    fill_commands([finding], config)
    command = finding.mitigations[0].params["command"]
    assert command == (
        f"redwatch harden '{model}' --data tx.csv --label is_fraud --out 'fraud model-hardened'"
    )
    assert "command" not in finding.mitigations[1].params


def test_command_without_a_model_file_says_so() -> None:
    template = evasion_mitigations(True)[0].params["command"]
    assert render(template, {"model": "http://host/predict", "data": "d.csv"}) == NO_MODEL_FILE
    assert render(template, {"data": "d.csv"}) == NO_MODEL_FILE
    no_label = render(template, {"model": __file__, "data": "d.csv", "labels": "model predictions"})
    assert "--label" not in no_label
