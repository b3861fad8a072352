"""Interoperability with the real `model_signing` CLI, both directions, both outcomes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from redwatch.exceptions import SignatureError
from redwatch.integrity.signing import generate_keypair, sign_model, verify_model
from redwatch.testing.requirements import require

require("model_signing", "signing")

MODEL_SIGNING = str(Path(sys.executable).with_name("model_signing"))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODEL_SIGNING, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    np.save(root / "weights.npy", np.random.default_rng(1).normal(size=(128, 16)))
    (root / "sub" / "config.json").write_text('{"n": 16}', encoding="utf-8")
    return root


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    pair = generate_keypair(tmp_path / "keys")
    return pair.private, pair.public


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_model_signing_accepts_our_folder_signature(
    model_dir: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    sig = sign_model(model_dir, private)
    args = ("verify", "key", str(model_dir), "--signature", str(sig), "--public_key", str(public))
    ok = _cli(*args, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Verification succeeded" in ok.stdout
    _flip_last_byte(model_dir / "weights.npy")
    bad = _cli(*args, cwd=tmp_path)
    assert bad.returncode == 1
    assert "weights.npy" in bad.stderr


def test_model_signing_accepts_our_single_file_signature(
    model_dir: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    model = model_dir / "weights.npy"
    sig = sign_model(model, private)
    ok = _cli(
        "verify",
        "key",
        str(model),
        "--signature",
        str(sig),
        "--public_key",
        str(public),
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr


def test_we_accept_a_model_signing_folder_signature(
    model_dir: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    sig = model_dir / "model.sig"
    made = _cli(
        "sign",
        "key",
        str(model_dir),
        "--private_key",
        str(private),
        "--signature",
        str(sig),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert verify_model(model_dir, public).files == 2  # default location DIR/model.sig
    (model_dir / "sub" / "extra.txt").write_text("injected", encoding="utf-8")
    with pytest.raises(SignatureError, match=r"extra sub/extra\.txt"):
        verify_model(model_dir, public)


def test_we_accept_a_model_signing_default_signature_in_cwd(
    model_dir: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """model_signing's default writes model.sig into the working folder, outside the model."""
    private, public = keys
    made = _cli("sign", "key", "model", "--private_key", str(private), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    sig = tmp_path / "model.sig"
    assert sig.is_file()
    verify_model(model_dir, public, sig)
    (model_dir / "sub" / "config.json").unlink()
    with pytest.raises(SignatureError, match=r"missing sub/config\.json"):
        verify_model(model_dir, public, sig)


def test_their_signature_with_another_key_is_refused(
    model_dir: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, _ = keys
    other = generate_keypair(tmp_path / "other")
    sig = tmp_path / "their.sig"
    made = _cli(
        "sign",
        "key",
        str(model_dir),
        "--private_key",
        str(private),
        "--signature",
        str(sig),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    with pytest.raises(SignatureError, match="does not verify with the key"):
        verify_model(model_dir, other.public, sig)
