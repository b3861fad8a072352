"""Every example in docs/ is a file, and this test runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from redwatch.config import load_project_config

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "docs" / "examples"
BIN = Path(sys.executable).parent


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REDWATCH_HOME": str(tmp_path / "home"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }


def test_python_api_example(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "python_api.py"), str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "evasion.pgd" in proc.stdout
    assert (tmp_path / "o" / "report.json").exists()


def test_cli_example(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(EXAMPLES / "scan-model-file.sh"), str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        check=False,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "exit code: " in proc.stdout
    for name in ("report.json", "report.html", "report.sarif", "report.xml", "report.md"):
        assert (tmp_path / "o" / "report" / name).exists()


def test_yaml_example_is_valid_and_shown_in_the_docs() -> None:
    cfg = load_project_config(EXAMPLES / "redwatch.yaml")
    assert cfg.features["student"].immutable
    assert cfg.probes["evasion.hopskipjump"]["max_queries"] == 1000
    shown = (ROOT / "docs" / "scan.md").read_text(encoding="utf-8")
    assert (EXAMPLES / "redwatch.yaml").read_text(encoding="utf-8") in shown
