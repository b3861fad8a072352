"""`redwatch integrity keygen/sign/verify` and `redwatch scan --require-signature`, end to end."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import fast_config

from redwatch.testing.requirements import require

require("model_signing", "signing")

MODEL_SIGNING = str(Path(sys.executable).with_name("model_signing"))


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def signed(cli, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """A model folder signed with a fresh key pair from `redwatch integrity keygen`."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (model / "config.json").write_text('{"a": 1}', encoding="utf-8")
    made = cli("integrity", "keygen", "--out", "keys")
    assert made.code == 0, made.stderr
    assert stat.S_IMODE((tmp_path / "keys" / "private.pem").stat().st_mode) == 0o600
    run = cli("integrity", "sign", "model", "--key", "keys/private.pem")
    assert run.code == 0, run.stderr
    assert (model / "model.sig").is_file()
    return model, tmp_path / "keys"


def test_sign_verify_and_every_failure_exit_code(cli, signed) -> None:  # type: ignore[no-untyped-def]
    model, keys = signed
    ok = cli("integrity", "verify", "model", "--key", str(keys / "public.pem"))
    assert ok.code == 0, ok.stderr
    assert "2 file(s)" in ok.stdout
    data = bytearray((model / "weights.bin").read_bytes())
    data[0] ^= 0xFF
    (model / "weights.bin").write_bytes(bytes(data))
    bad = cli("integrity", "verify", "model", "--key", str(keys / "public.pem"))
    assert bad.code == 1
    assert "modified weights.bin" in _one_line(bad.stderr)
    again = cli("integrity", "keygen", "--out", "keys")
    assert again.code == 2
    assert "refusing to overwrite" in _one_line(again.stderr)
    usage = cli("integrity", "verify", "model", "--key", "nope.pem")
    assert usage.code == 2
    assert "public key not found" in _one_line(usage.stderr)
    missing = cli("integrity", "verify", "gone", "--key", str(keys / "public.pem"))
    assert missing.code == 2
    assert "model path not found" in _one_line(missing.stderr)


def test_cli_signatures_interoperate_with_model_signing(cli, signed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, keys = signed
    theirs = subprocess.run(
        [MODEL_SIGNING, "verify", "key", str(model), "--signature", str(model / "model.sig"),
         "--public_key", str(keys / "public.pem")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert theirs.returncode == 0, theirs.stderr
    made = subprocess.run(
        [MODEL_SIGNING, "sign", "key", str(model), "--signature", str(tmp_path / "their.sig"),
         "--private_key", str(keys / "private.pem")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    ours = cli(
        "integrity", "verify", "model", "--key", str(keys / "public.pem"),
        "--signature", "their.sig",
    )  # fmt: skip
    assert ours.code == 0, ours.stderr
    (model / "new.txt").write_text("x", encoding="utf-8")
    ours = cli(
        "integrity", "verify", "model", "--key", str(keys / "public.pem"),
        "--signature", "their.sig",
    )  # fmt: skip
    assert ours.code == 1
    assert "extra new.txt" in _one_line(ours.stderr)


def _scan(cli, model: Path | str, data: Path, cfg: Path, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        "scan", str(model), "--data", str(data), "--label", "diagnosis",
        "--probe", "evasion.noise", "--config", str(cfg), "--out", "o", *extra,
    )  # fmt: skip


def test_scan_require_signature_refuses_tampered_model(cli, gbm_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source, data = gbm_files
    model = tmp_path / "model.joblib"
    shutil.copy(source, model)
    cfg = fast_config(tmp_path / "redwatch.yaml")
    assert cli("integrity", "keygen", "--out", "keys").code == 0
    public = str(tmp_path / "keys" / "public.pem")

    unsigned = _scan(cli, model, data, cfg, "--require-signature", public)
    assert unsigned.code == 2
    assert "unsigned" in _one_line(unsigned.stderr)

    signing = cli("integrity", "sign", str(model), "--key", "keys/private.pem")
    assert signing.code == 0, signing.stderr
    assert (tmp_path / "model.joblib.sig").is_file()
    good = _scan(cli, model, data, cfg, "--require-signature", public, "--fail-on", "none",
                 "--probe", "integrity.signature")  # fmt: skip
    assert good.code == 0, good.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    runs = {p["probe"]: p for p in report["probes"]}
    assert runs["integrity.signature"]["metrics"]["signature"] == "valid"
    assert "integrity.signature" not in {f["probe"] for f in report["findings"]}

    shutil.rmtree(tmp_path / "o")
    with model.open("ab") as handle:
        handle.write(b"\x00")  # one extra byte: joblib would still load it
    tampered = _scan(cli, model, data, cfg, "--require-signature", public)
    assert tampered.code == 2
    line = _one_line(tampered.stderr)
    assert line.startswith("redwatch: error:")
    assert "does not match its signature" in line
    assert "modified model.joblib" in line
    assert not (tmp_path / "o").exists()  # refused before anything ran


def test_scan_require_signature_usage_errors(cli, gbm_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    cfg = fast_config(tmp_path / "redwatch.yaml")
    url = _scan(cli, "http://127.0.0.1:9/predict", data, cfg, "--require-signature", "k.pem")
    assert url.code == 2
    assert "not the URL" in _one_line(url.stderr)
    ref = _scan(cli, "sklearn.linear_model:LogisticRegression", data, cfg,
                "--require-signature", "k.pem")  # fmt: skip
    assert ref.code == 2
    assert "import paths cannot be signed" in _one_line(ref.stderr)
    lone = _scan(cli, "m.joblib", data, cfg, "--signature", "m.sig")
    assert lone.code == 2
    assert "--signature needs --require-signature" in _one_line(lone.stderr)


def _signing_doc_blocks() -> dict[str, str]:
    """The first code block of each language in the `## Signing` section of docs/integrity.md."""
    text = (Path(__file__).parents[2] / "docs" / "integrity.md").read_text(encoding="utf-8")
    section = text.split("\n## Signing\n", 1)[1].split("\n## ", 1)[0]
    blocks: dict[str, str] = {}
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL):
        blocks.setdefault(lang, body)
    return blocks


def test_signing_docs_examples_run_as_written(tmp_path: Path) -> None:
    """The bash, console and python examples in docs/integrity.md do what the page says."""
    blocks = _signing_doc_blocks()
    env = {
        **os.environ,
        "REDWATCH_HOME": str(tmp_path / "home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }

    def sh(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip

    def py() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", blocks["python"]], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    first = sh("set -euo pipefail\n" + blocks["bash"])
    assert first.returncode == 0, first.stderr
    assert "Verification succeeded" in first.stdout
    assert py().returncode == 0
    commands = [ln[2:] for ln in blocks["console"].splitlines() if ln.startswith("$ ")]
    shown = [ln for ln in blocks["console"].splitlines() if ln and not ln.startswith("$ ")]
    for command in commands[:-1]:
        assert sh(command).returncode == 0
    last = sh(commands[-1])
    assert last.returncode == 1
    assert last.stderr.strip().splitlines() == shown
    refused = py()
    assert refused.returncode == 1
    assert "refusing to serve" in refused.stderr
    assert "modified weights.bin" in refused.stderr
