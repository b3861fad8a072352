"""End-to-end helpers: run the installed `redwatch` console script in a clean home."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_breast_cancer
from xgboost import XGBClassifier

REDWATCH = str(Path(sys.executable).with_name("redwatch"))


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Call the CLI with REDWATCH_HOME inside tmp_path and the cwd at tmp_path."""
    env = {**os.environ, "REDWATCH_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    env.pop("REDWATCH_DB_URL", None)

    def run(*args: str, timeout: float = 600, extra_env: dict[str, str] | None = None) -> Run:
        proc = subprocess.run(
            [REDWATCH, *args],
            cwd=tmp_path,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(scope="session")
def gbm_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An XGBoost model saved with joblib and its held-out data as CSV."""
    root = tmp_path_factory.mktemp("gbm")
    data = load_breast_cancer(as_frame=True)
    x, y = data.data, data.target
    model = XGBClassifier(n_estimators=30, max_depth=3, random_state=0).fit(x[:400], y[:400])
    joblib.dump(model, root / "model.joblib")
    frame = x[400:].copy()
    frame["diagnosis"] = y[400:]
    frame.to_csv(root / "data.csv", index=False)
    return root / "model.joblib", root / "data.csv"
