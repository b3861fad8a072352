"""Report-test data, a realistic campaign built by hand: evasion findings with robustness
curves under two norms, a privacy finding, evidence paths, new/open/regressed statuses, a
fixed finding, and probe runs that were ok, stopped by budget, skipped and errored."""

from __future__ import annotations

import numpy as np

from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity
from redwatch.results import CampaignResult, ProbeRun

TARGET = "models/digits.joblib"
EVASION_REFS = ("AML.T0015", "AML.T0043.000", "OWASP-ML01", "NIST-MEASURE-2.7")


def _curve(eps: list[float], acc: list[float], clean: float) -> list[dict[str, float]]:
    return [
        {"epsilon": e, "accuracy": a, "success_rate": round(1.0 - a / clean, 4)}
        for e, a in zip(eps, acc, strict=True)
    ]


def _evasion(
    probe: str, severity: Severity, norm: str, acc: list[float], eps: list[float]
) -> Finding:
    clean = 0.96
    finding = Finding(
        probe=probe,
        category=Category.EVASION,
        severity=severity,
        title=f"{probe} L{norm} drops accuracy from {clean:.0%} to {acc[-2]:.0%}",
        description="Small input changes flip most predictions of the model.",
        metrics={
            "clean_accuracy": np.float64(clean),
            "curve": _curve(eps, acc, clean),
            "success_rate": np.float32(1.0 - acc[-2] / clean),
            "median_norm": np.float64(eps[-2] * 0.7),
            "queries": np.int64(4000),
            "norm": norm,
            "epsilon": eps[-2],
        },
        mitigations=[
            Mitigation(
                "guard_rule",
                "Reject inputs off the data manifold",
                "kNN distance check.",
                {"threshold": 0.31},
            ),
            Mitigation("retrain", f"Adversarial training at ε={eps[-2]}"),
        ],
        references=EVASION_REFS,
        target=TARGET,
        key=norm,
    )
    finding.evidence.append(
        Evidence(
            kind="adversarial_examples",
            description="32 clean inputs and their adversarial versions",
            data={"n": np.int64(32), "max_perturbation": np.float64(eps[-2])},
            arrays={"x": np.zeros((32, 64)), "x_adv": np.ones((32, 64))},
            path=f"evidence/{finding.fingerprint}/adversarial.npz",
        )
    )
    return finding


def _privacy() -> Finding:
    return Finding(
        probe="privacy.membership",
        category=Category.PRIVACY,
        severity=Severity.LOW,
        title="Membership | inference advantage 0.12",
        description="Attacker <script>alert(1)</script> guesses training membership.",
        metrics={
            "auc": 0.61,
            "advantage": np.float64(0.12),
            "per_class": {"0": 0.6, "1": np.float64(0.62)},
            "thresholds": [0.1, 0.2],
            "tpr_at_1pct_fpr": float("nan"),
        },
        evidence=[
            Evidence(kind="scores", description="member scores", path="javascript:alert(1)"),
            Evidence(kind="note", description="no arrays saved"),
        ],
        references=("AML.T0024.000", "OWASP-ML04", "CUSTOM-42"),
        target=TARGET,
    )


def build_campaign() -> CampaignResult:
    """The full campaign used by every report test."""
    linf = [0.0, 0.02, 0.05, 0.1, 0.2]
    l2 = [0.0, 0.5, 1.0, 2.0, 3.0]
    pgd_inf = _evasion("evasion.pgd", Severity.HIGH, "inf", [0.96, 0.7, 0.41, 0.12, 0.01], linf)
    pgd_l2 = _evasion("evasion.pgd", Severity.MEDIUM, "2", [0.96, 0.8, 0.62, 0.4, 0.2], l2)
    hsj = _evasion("evasion.hopskipjump", Severity.CRITICAL, "2", [0.96, 0.6, 0.3, 0.05, 0.0], l2)
    privacy = _privacy()
    findings = [pgd_inf, pgd_l2, hsj, privacy]
    return CampaignResult(
        id="c0ffee00d15ea5e0c0ffee00d15ea5e0",
        target=TARGET,
        target_kind="sklearn",
        started_at="2025-03-01T10:00:00Z",
        finished_at="2025-03-01T10:02:41Z",
        status="completed",
        probes=[
            ProbeRun("evasion.pgd", "ok", 12.3456, 8000, metrics={"samples": np.int64(64)}),
            ProbeRun("evasion.hopskipjump", "budget", 30.0, 5000, "query budget reached"),
            ProbeRun("evasion.square", "skipped", 0.0, 0, "needs scores; target exposes labels"),
            ProbeRun("evasion.sensitivity", "error", 0.5, 10, "ValueError: bad \x00 input shape"),
        ],
        findings=findings,
        diff={pgd_inf.fingerprint: "new", pgd_l2.fingerprint: "open", hsj.fingerprint: "regressed"},
        fixed=[
            {
                "fingerprint": "0123456789abcdef",
                "probe": "evasion.square",
                "title": "Square attack fools 40% of inputs",
            }
        ],
        config={"probes": ["evasion.*"], "budget": {"queries": 20000}, "seed": 0},
        redwatch_version="0.1.0",
    )


def build_empty() -> CampaignResult:
    """A campaign against an endpoint where nothing ran and nothing was found."""
    return CampaignResult(
        id="empty1",
        target="http://127.0.0.1:8080/predict",
        target_kind="http",
        started_at="2025-03-01T11:00:00Z",
        finished_at="2025-03-01T11:00:01Z",
        status="completed",
    )
