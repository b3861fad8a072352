"""Audit document and its renderings from a campaign result: register rows with measured
figures, method, controls and framework sections; HTML with embedded figures; PDF bytes;
the output folder swapped in whole."""

import json
from pathlib import Path

import pytest
from sklearn.datasets import load_digits

from redwatch.audit.document import AUDIT_SCHEMA, AuditScope, build_audit
from redwatch.audit.render import render_all, render_html
from redwatch.audit.run import audit_params, audit_probes, publish
from redwatch.engine.evidence import save_evidence
from redwatch.engine.planner import available_probes
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.results import CampaignResult, ProbeRun

ROC = {
    "lira_online": [{"fpr": 0.001, "tpr": 0.2}, {"fpr": 0.01, "tpr": 0.4}, {"fpr": 1.0, "tpr": 1.0}]
}


def _result(out: Path) -> CampaignResult:
    digits = load_digits().images[:6] / 16.0
    findings = [
        Finding(
            "privacy.model_inversion",
            Category.PRIVACY,
            Severity.MEDIUM,
            "Class prototypes can be reconstructed",
            metrics={"advantage": 0.31},
            evidence=[Evidence("image", "reconstructed digits", arrays={"images": digits})],
            references=("AML.T0024.001", "OWASP-ML03"),
            target="m",
        ),
        Finding(
            "privacy.membership",
            Category.PRIVACY,
            Severity.HIGH,
            "Training-set membership leaks",
            metrics={"tpr_at_0.1%_fpr": 0.2, "auc": 0.91, "roc": ROC},
            mitigations=[Mitigation("retrain", "Regularise the model", "Stop earlier.")],
            references=("AML.T0024.000", "OWASP-ML04", "NIST-MEASURE-2.10"),
            target="m",
        ),
    ]
    probes = [
        ProbeRun("privacy.membership", "ok", 2.0, 0, "", {"auc": 0.91}),
        ProbeRun("privacy.model_inversion", "ok", 1.0, 300, "", {"advantage": 0.31}),
        ProbeRun("evasion.noise", "ok", 0.5, 400, "", {"accuracy_drop": 0.012}),
        ProbeRun("fairness.groups", "ok", 0.1, 0, "", {"skipped": "no sensitive column declared"}),
        ProbeRun("evasion.pgd", "skipped", message="needs gradients"),
    ]
    config = {
        "rows": 120,
        "features": 64,
        "seed": 3,
        "clean_accuracy": 0.95,
        "labels": "y",
        "budget": {"queries": None, "seconds": 30.0},
        "capabilities": ["labels", "scores"],
    }
    return CampaignResult(
        "c1",
        "m",
        "sklearn",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:01:00+00:00",
        "completed",
        probes,
        save_evidence(findings, out),
        config=config,
        redwatch_version="0.1",
    )


@pytest.fixture
def audit(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    scope = AuditScope("model.joblib", "data.csv", "y", sensitive=("sex",))
    return build_audit(_result(tmp_path), scope, available_probes())


def test_register_rates_findings_and_clean_tests_with_measured_figures(audit: dict) -> None:  # type: ignore[type-arg]
    assert audit["schema"] == AUDIT_SCHEMA
    rows = audit["register"]
    assert [r["id"] for r in rows] == ["R01", "R02", "R03"]
    top = rows[0]
    assert top["probe"] == "privacy.membership"
    assert top["risk"] == "high"
    assert top["figure"]["text"] == "true positive rate at 0.1% false positives 20.0%"
    assert top["mitigation"]["title"] == "Regularise the model"
    assert {"AML.T0024.000", "GDPR-Art25", "GDPR-Art32"} <= set(top["references"])
    clean = rows[2]
    assert clean["kind"] == "tested, not found"
    assert clean["risk"] == "none"
    assert clean["figure"]["text"] == "accuracy drop under random noise 1.2%"
    summary = audit["summary"]
    assert summary["overall_risk"] == "high"
    assert "20.0%" in summary["top_risks"][0]["text"]
    assert summary["probes_run"] == 3
    assert summary["probes_not_run"] == 2


def test_method_controls_and_frameworks(audit: dict) -> None:  # type: ignore[type-arg]
    method = audit["method"]
    not_run = {p["probe"]: p["reason"] for p in method["probes_not_run"]}
    assert not_run == {
        "fairness.groups": "no sensitive column declared",
        "evasion.pgd": "needs gradients",
    }
    statuses = {p["probe"]: p["status"] for p in method["probes_not_run"]}
    assert statuses == {"fairness.groups": "not applicable", "evasion.pgd": "skipped"}
    assert audit["summary"]["not_applicable"] == [
        {
            "probe": "fairness.groups",
            "text": "fairness.groups: not applicable, no sensitive column declared.",
        }
    ]
    assert method["seed"] == 3
    assert "python" in method["versions"]
    status = {c["id"]: c["status"] for c in audit["controls"]}
    assert status["RW-C03"] == "performed"
    assert status["RW-C04"] == "not performed"
    names = [s["framework"] for s in audit["frameworks"]]
    assert names[0] == "MITRE ATLAS"
    assert "GDPR" in names
    assert "EU AI Act" in names
    for section in audit["frameworks"]:
        assert section["source"]["document"]
        assert section["source"]["version"]
    gdpr = next(s for s in audit["frameworks"] if s["framework"] == "GDPR")
    art25 = next(r for r in gdpr["references"] if r["id"] == "GDPR-Art25")
    assert art25["rows"] == ["R01", "R02"]
    assert "RW-C03" in art25["controls"]
    json.dumps(audit, allow_nan=False)


def test_html_embeds_images_and_roc_and_every_section(audit: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    html = render_html(audit, tmp_path)
    assert html.count('src="data:image/png;base64,') == 1
    assert "<svg" in html
    assert "ROC (log scale)" in html
    for title in ("Executive summary", "Risk register", "Method and scope", "Framework mapping"):
        assert title in html
    assert "Regulation (EU) 2016/679" in html
    assert "<script" not in html


def test_render_all_writes_a_pdf_and_json(audit: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    files = render_all(audit, tmp_path, ("json", "pdf"))
    assert set(files) == {"audit.json", "audit.pdf"}
    assert files["audit.pdf"].startswith(b"%PDF")
    assert json.loads(files["audit.json"])["register"][0]["id"] == "R01"


def test_probe_choice_and_recipe_params() -> None:
    table = available_probes()
    names = audit_probes(table)
    assert "privacy.membership" in names
    assert "evasion.noise" in names
    assert "evasion.art_zoo" not in names  # opt-in probes stay out
    params = audit_params(table, names, {"privacy.membership": {"shadows": 4}}, "pkg.mod:fit")
    assert params["privacy.membership"] == {"shadows": 4, "train_recipe": "pkg.mod:fit"}
    assert params["poisoning.label_flip"]["train_recipe"] == "pkg.mod:fit"
    assert "evasion.noise" not in params


def test_publish_replaces_the_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "audit"
    out.mkdir()
    (out / "stale.txt").write_text("old", encoding="utf-8")
    staging = tmp_path / ".audit.partial"
    staging.mkdir()
    (staging / "audit.json").write_text("{}", encoding="utf-8")
    publish(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["audit.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit"]
