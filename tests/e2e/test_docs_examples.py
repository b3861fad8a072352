"""Every example in docs/ is a file, and this test runs it.

Files in docs/examples are picked up by suffix, so a new example is covered without editing
this test: `.py` runs with the interpreter, `.sh` through bash with the real `redwatch`
console script on PATH (both in a temporary folder, with OUT_DIR as the one argument),
`.yaml` is loaded as redwatch.yaml and every probe option in it must be read by the probe,
`.txt` holds constraint expressions that must parse. tests/unit/test_docs_blocks.py checks
that the blocks shown in the docs equal these files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from redwatch.config import load_project_config
from redwatch.demo.models import train_credit_gbm, train_digits_logreg
from redwatch.engine.planner import available_probes
from redwatch.exceptions import QueryBudgetExceeded
from redwatch.guard import GuardedModel, load_policy
from redwatch.probes.base import Budget, Probe, ProbeContext
from redwatch.targets.base import Target
from redwatch.targets.constraints import parse_relation
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "docs" / "examples"
BIN = Path(sys.executable).parent


def _fraud_folder(cwd: Path) -> None:
    """What harden-fraud.sh expects: fraud_data.py's files and the constraints as redwatch.yaml."""
    _run([sys.executable, str(EXAMPLES / "fraud_data.py"), str(cwd)], cwd)
    shutil.copy(EXAMPLES / "redwatch-constraints.yaml", cwd / "redwatch.yaml")


def _harden_record(cwd: Path) -> None:
    """harden-fraud.sh's record compares the same probes before and after augmentation."""
    record = json.loads((cwd / "fraud-hardened" / "harden.json").read_text(encoding="utf-8"))
    assert record["method"]["name"] == "augment"
    assert record["comparison"]


# Per-example extras: text the output must contain, files it must write (relative to the
# temporary folder), preparation of the folder, checks of what it wrote, and examples that
# take long.
EXPECT: dict[str, tuple[str, ...]] = {
    "llm_guard_proxy.sh": (
        "chat proxy on http://",
        "blocked by the guard",
        "redwatch guard: stopped; events flushed",
        "guard block events: ",
    ),
    "llm_guard_inprocess.py": ("injected request: blocked by llm-injection", "[REDACTED:EMAIL]"),
    "llm_reference_brain.py": ("reply: RW-DEMO42XQ", "30 days"),
    "llm_scan.sh": ("scan exit code: 1", "finding [critical] Direct prompt injection"),
    "llm_probe_inprocess.py": ("finding [", "guard stage llm-injection"),
    "llm_detectors.py": ("leaky reply -> hit", "refusing reply -> clean"),
    "llm_callable_target.py": ("queries spent: 1", "send_email("),
    "llm_converters.py": (
        "--- base64",
        "--- payload-split",
        "custom set my_direct_injection.yaml: 37 prompts",
    ),
    "ray_scan.sh": ("same findings: True",),
    "service_keys.sh": ('"stored":1', "no key: 401", "redwatch serve: stopped"),
    "alerts_verify_webhook.py": ("receiver: verified", "receiver: REJECTED"),
    "python_api.py": ("evasion.pgd", "report:"),
    "whitebox_apgd.py": ("losses used: ce+dlr", "APGD (CE+DLR) flips"),
    "blackbox_api.py": ("signopt, stop within", "hopskipjump, minimal", "square Linf", "targeted"),
    "trees_api.py": ("proven exact: 100%", "exact evasions flip the model: True"),
    "fraud_data.py": ("wrote", "800 rows"),
    "scan-model-file.sh": ("exit code: ",),
    "harden-fraud.sh": ("robustness", "hardened model: fraud-hardened/model.joblib"),
    "guard-patch.sh": ("verify exit code: ",),
    "guard-proxy.sh": ("guard exit code: 0", "redwatch guard: stopped"),
    "ip_api.sh": ("verdict: ownership shown", "independent model: exit code 1"),
    "ip_api_theft.py": ("watermark events in",),
    "ip_watermark.sh": ("trigger agreement:", "redwatch.ip.commitment/v1"),
    "ip_extraction.py": ("queries spent: 950", "fidelity by queries"),
    "ip_fingerprint.sh": ("copy: exit code 0", "independent: exit code 1"),
    "ip-verify.sh": ("ownership shown", "clean model exit code: 1"),
    "data_scan.sh": ("scan exit code: 1", "quarantined rows:"),
    "data_shilling.sh": ("scan exit code: 1", "cluster of 28 accounts", "quarantined rows:"),
    "privacy_membership.py": ("rmia_online: AUC", "finding ["),
    "fairness_scan.sh": ("four-fifths ratio 0.58", "finding [medium]"),
    "privacy_attribute.py": (
        "features+output: AUC",
        "finding [medium]: Model output reveals sensitive attribute 'income'",
    ),
    "audit.sh": ("audit exit code: ", "overall risk:"),
    "harden_drop_rows.sh": (
        "scan exit code: 1",
        "harden exit code: 0",
        "agreement with the quarantine",
    ),
    "ip_verify_python.py": (
        "watermarked copy: agreement",
        "independently trained: agreement",
        "certificate:",
    ),
}
WRITES: dict[str, tuple[str, ...]] = {
    "llm_guard_proxy.sh": ("o/report/report.json", "o/events.json"),
    "llm_scan.sh": ("o/report/report.json", "o/report/report.html", "o/report/report.md"),
    "llm_detectors.py": ("o/verdicts.jsonl",),
    "llm_callable_target.py": ("o/transcript.json",),
    "llm_converters.py": ("o/my_direct_injection.yaml",),
    "python_api.py": ("o/report.json",),
    "fraud_data.py": ("o/fraud.joblib", "o/transactions.csv"),
    "scan-model-file.sh": tuple(
        f"o/report/report.{ext}" for ext in ("json", "html", "sarif", "xml", "md")
    ),
    "harden-fraud.sh": ("fraud-hardened/harden.json", "fraud-hardened/model.joblib"),
    "guard-patch.sh": ("o/patch.policy.yaml", "o/verify.json", "o/analytics.key"),
    "ip_api.sh": ("o/certificate.json", "o/report.md"),
    "ip_watermark.sh": (
        "o/credit-marked.joblib",
        "o/credit-marked.joblib.commitment.json",
        "o/owner.key",
    ),
    "ip_fingerprint.sh": ("fp.json", "owner.key"),
    "ip-verify.sh": (
        "o/certificate.json",
        "o/certificate.md",
        "o/credit-marked.joblib.commitment.json",
    ),
    "ip_verify_python.py": ("o/certificate.json", "o/certificate.md"),
    "data_scan.sh": ("quarantine.csv", "quarantine.clean.csv", "report/data-scan.html"),
    "data_shilling.sh": ("ratings.csv", "scan.json", "quarantine.csv", "quarantine.clean.csv"),
    "privacy_membership.py": ("o/membership.json",),
    "fairness_scan.sh": ("report.json", "report/report.md", "hmda.joblib"),
    "privacy_attribute.py": ("o/attribute.json",),
    "audit.sh": ("o/audit/audit.json", "o/audit/audit.html", "o/audit/audit.pdf"),
    "harden_drop_rows.sh": (
        "quarantine.csv",
        "retrained/harden.json",
        "retrained/model.joblib",
        "retrained/report.md",
    ),
    "ray_scan.sh": ("local.json", "ray.json", "report-ray/report.json"),
}
SETUP: dict[str, Callable[[Path], None]] = {"harden-fraud.sh": _fraud_folder}
CHECK: dict[str, Callable[[Path], None]] = {"harden-fraud.sh": _harden_record}
# about 40 s: hardening plus two campaigns; a campaign, a policy and a replay; ~12 s; the IP
# examples train references, surrogates or a served model (15-50 s each)
SLOW = {
    "llm_guard_proxy.sh",
    "llm_scan.sh",
    "ray_scan.sh",
    "service_keys.sh",
    "harden-fraud.sh",
    "guard-patch.sh",
    "watermark_verify.py",
    "ip_api.sh",
    "ip_api_theft.py",
    "ip_watermark.sh",
    "ip_fingerprint.sh",
    "ip-verify.sh",
    "harden_drop_rows.sh",
    "audit.sh",
}
# Exit codes other than 0 that an example may end with, and why.
EXIT: dict[str, set[int]] = {"harden-fraud.sh": {0, 1}}  # 1: robustness did not improve


POLICY = ".policy.yaml"


def _examples(*suffixes: str) -> list[Any]:
    """The example files with these suffixes (guard policies, *.policy.yaml, only under
    that suffix), slow ones marked."""
    files = sorted(
        p
        for p in EXAMPLES.iterdir()
        if (p.name.endswith(POLICY) and POLICY in suffixes)
        or (p.suffix in suffixes and not p.name.endswith(POLICY))
    )
    return [
        pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name in SLOW else [])
        for p in files
    ]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "REDWATCH_HOME": str(tmp_path / "home"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "200",
    }
    env.pop("REDWATCH_DB_URL", None)
    return env


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, env=_env(cwd), check=False, timeout=600, cwd=cwd
    )


def _check(example: Path, proc: subprocess.CompletedProcess[str], cwd: Path) -> None:
    name = example.name
    assert proc.returncode in EXIT.get(name, {0}), f"{name}: {proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{name} printed nothing"
    for text in EXPECT.get(name, ()):
        assert text in proc.stdout, f"{name}: {text!r} not in output:\n{proc.stdout[-3000:]}"
    for rel in WRITES.get(name, ()):
        assert (cwd / rel).is_file(), f"{name} did not write {rel}"
    CHECK.get(name, lambda _: None)(cwd)


@pytest.mark.parametrize("example", _examples(".py"))
def test_python_example_runs(example: Path, tmp_path: Path) -> None:
    SETUP.get(example.name, lambda _: None)(tmp_path)
    proc = _run([sys.executable, str(example), str(tmp_path / "o")], tmp_path)
    _check(example, proc, tmp_path)


@pytest.mark.parametrize("example", _examples(".sh"))
def test_shell_example_runs_through_the_cli(example: Path, tmp_path: Path) -> None:
    SETUP.get(example.name, lambda _: None)(tmp_path)
    proc = _run(["bash", str(example), str(tmp_path / "o")], tmp_path)
    _check(example, proc, tmp_path)


class _Recorder(dict[str, Any]):
    """Probe options that remember which keys the probe asked for."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def _targets() -> Iterator[tuple[Target, np.ndarray, np.ndarray]]:
    """Small real targets, one of which every evasion probe applies to: digits as 8x8
    images (gradients), digits as a table, and a random forest (trees)."""
    demo = train_digits_logreg(seed=0)
    x, y = demo.x_test[:60], demo.y_test[:60]
    names = tuple(f"pixel_{i}" for i in range(64))
    for shape in ((1, 8, 8), None):
        target = SklearnTarget(demo.model, name="digits")
        target.set_input_spec(InputSpec(names, np.zeros(64), np.ones(64), image_shape=shape))
        yield target, x, y
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    forest.fit(demo.x_train, demo.y_train)
    trees = SklearnTarget(forest, name="forest")
    trees.set_input_spec(InputSpec.from_data(demo.x_train, names))
    yield trees, x, y


def _options_read(cls: type[Probe], options: dict[str, Any]) -> set[str]:
    """Run the probe briefly with these options on a target it applies to; the keys it read."""
    for target, x, y in _targets():
        if cls.applies(target.capabilities):
            params = _Recorder(options)
            ctx = ProbeContext(x, y, Budget(queries=3000, seconds=10), seed=0, params=params)
            try:
                with target.limit(3000):
                    list(cls().run(target, ctx))
            except QueryBudgetExceeded:
                pass
            return params.read
    pytest.fail(f"{cls.name} applies to none of the small test targets")


@pytest.mark.parametrize("example", _examples(".yaml"))
def test_yaml_example_is_valid_and_every_option_is_used(example: Path) -> None:
    config = load_project_config(example)
    table = available_probes()
    unknown = sorted(set(config.probes) - set(table))
    assert not unknown, f"{example.name}: unknown probes {unknown}"
    for name, options in config.probes.items():
        cls = table[name]
        declared = getattr(cls, "defaults", None)
        if declared is not None and cls.why_not(_digits_capabilities()) is not None:
            unused = set(options) - set(declared)  # optional extra missing: its option table
        else:
            unused = set(options) - _options_read(cls, dict(options))
        assert not unused, f"{example.name}: {name} ignores option(s) {sorted(unused)}"


def _digits_capabilities() -> Any:
    """The digits image target's capabilities: an ART probe that does not apply to them
    lacks its optional extra."""
    target, _, _ = next(_targets())
    return target.capabilities


def test_yaml_examples_cover_the_documented_probes() -> None:
    covered = set()
    for example in EXAMPLES.glob("*.yaml"):
        if not example.name.endswith(POLICY):
            covered |= set(load_project_config(example).probes)
    evasion = {n for n in available_probes() if n.startswith("evasion.")}
    missing = sorted(evasion - covered - {"evasion.noise", "evasion.sensitivity"})
    assert not missing, f"no docs example sets options for {missing}"


@pytest.mark.parametrize("example", _examples(POLICY))
def test_policy_example_builds_and_guards_the_demo_model(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guard policy example loads, every stage builds (and calibrates) around the demo
    credit model with its training rows as reference, and a clean call goes through."""
    monkeypatch.setenv("REDWATCH_WATERMARK_KEY", "docs-example-watermark-key-0123456789")
    demo = train_credit_gbm(seed=0)
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    policy = load_policy(example)
    guarded = GuardedModel(demo.model, policy, spec, reference=demo.x_train, base_dir=EXAMPLES)
    guarded.build()
    assert [stage.name for stage in guarded.pipeline.stages] == policy.stage_names()
    if "auth" not in policy.stage_names():
        proba = guarded.predict_proba(demo.x_test[:5])
        assert proba.shape == (5, 2)


@pytest.mark.parametrize("example", _examples(".txt"))
def test_constraint_expressions_parse(example: Path) -> None:
    lines = [ln.strip() for ln in example.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert lines
    for text in lines:
        names = sorted(set(re.findall(r"[A-Za-z_][\w.]*", text)))
        relation = parse_relation(text, names)
        assert relation is not None, text


def test_yaml_example_is_shown_in_the_scan_page() -> None:
    cfg = load_project_config(EXAMPLES / "redwatch.yaml")
    assert cfg.features["student"].immutable
    assert cfg.probes["evasion.hopskipjump"]["max_queries"] == 1000
    shown = (ROOT / "docs" / "scan.md").read_text(encoding="utf-8")
    assert (EXAMPLES / "redwatch.yaml").read_text(encoding="utf-8") in shown


def test_constraints_example_scans_the_fraud_model_with_feasible_findings(
    tmp_path: Path,
) -> None:
    """redwatch-constraints.yaml drives a real scan of fraud_data.py's model: the findings
    name the cheapest feasible evasion, and it leaves immutable features alone."""
    _fraud_folder(tmp_path)
    proc = _run(
        [
            str(BIN / "redwatch"),
            "scan",
            "fraud.joblib",
            "--data",
            "transactions.csv",
            "--config",
            str(EXAMPLES / "redwatch-constraints.yaml"),
            "--probe",
            "evasion.tree_walk",
            "--budget-queries",
            "20000",
            "--out",
            "r",
            "--format",
            "json",
            "--fail-on",
            "none",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    cheapest = [f["metrics"]["cheapest_evasion"] for f in report["findings"]]
    assert cheapest, "no finding on the fraud model"
    changes = cheapest[0]["changes"]
    assert changes
    assert not {"balance_before", "customer_age"} & set(changes)
    assert cheapest[0]["cost_units"] == "user cost"
